-- times: Begin and Commit carry the transaction's commit time as
-- microseconds since the Unix epoch (a zigzag-encoded sint64 field), and
-- two-phase events their prepare and commit times, in any session time zone
SET TimeZone = 'Pacific/Auckland';
SELECT 'init' FROM pg_create_logical_replication_slot('times', 'walcast', false, true);

CREATE TABLE times (id int PRIMARY KEY);
INSERT INTO times VALUES (1);
BEGIN;
INSERT INTO times VALUES (2);
PREPARE TRANSACTION 'times_gid';
COMMIT PREPARED 'times_gid';

-- each event's time, read back from the decoded bytes, is within a minute
-- of now (decode prints UTC times as 2026-11-21T21:20:58.629213Z)
SELECT substring(d FROM '^[A-Z]+(?: PREPARED?)?') AS event,
       abs(extract(epoch FROM now() -
           substring(d FROM ' time ([0-9T:.Z-]+)')::timestamptz)) < 60 AS time_is_now
  FROM (SELECT walcast.decode(data, true) AS d
          FROM pg_logical_slot_get_binary_changes('times', NULL, NULL)) s
 WHERE d ~ ' time ';

SELECT pg_drop_replication_slot('times');
DROP TABLE times;
