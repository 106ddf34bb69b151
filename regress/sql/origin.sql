-- origin: transactions replayed under a replication origin
--
-- Changes made by a session set up with pg_replication_origin_session_setup
-- carry that origin: their BEGIN names it.  Option origin 'none' skips them
-- (only local changes come); 'any', the default, keeps them.
SELECT 'init' FROM pg_create_logical_replication_slot('origin', 'walcast');

-- the option takes "any" or "none"
SELECT count(*)
  FROM pg_logical_slot_peek_binary_changes('origin', NULL, NULL,
                                           'origin', 'remote');
SELECT count(*)
  FROM pg_logical_slot_peek_binary_changes('origin', NULL, NULL,
                                           'origin', 'none', 'origin', 'any');

CREATE TABLE origin_t (id int PRIMARY KEY, src text);
SELECT pg_replication_origin_create('walcast_upstream') > 0 AS created;

-- a local change, then two under the origin (one of them with the remote
-- commit position and time set by pg_replication_origin_xact_setup), then a
-- local change again
INSERT INTO origin_t VALUES (1, 'local before');
SELECT pg_replication_origin_session_setup('walcast_upstream');
INSERT INTO origin_t VALUES (2, 'replayed');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/AB12CD34', '2024-01-02 03:04:05+00');
INSERT INTO origin_t VALUES (3, 'replayed with position');
UPDATE origin_t SET src = 'replayed, updated' WHERE id = 2;
COMMIT;
SELECT pg_replication_origin_session_reset();
INSERT INTO origin_t VALUES (4, 'local after');

-- the origin's progress is the position given to xact_setup
SELECT pg_replication_origin_progress('walcast_upstream', false);

-- origin 'any' (default): everything, the replayed transactions naming
-- their origin
SELECT walcast.decode(data)
  FROM pg_logical_slot_peek_binary_changes('origin', NULL, NULL);
-- the remote commit position is sent too (verbose rendering: only the
-- origin_lsn part is shown, the rest varies between runs)
SELECT substring(walcast.decode(data, true) FROM 'origin_lsn [0-9A-F/]+') AS origin_lsn
  FROM pg_logical_slot_peek_binary_changes('origin', NULL, NULL)
 WHERE walcast.decode(data) LIKE 'BEGIN%';
-- origin 'none': only the local transactions
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('origin', NULL, NULL,
                                          'origin', 'none');

-- messages: a transactional one under the origin goes with its
-- transaction; a non-transactional one carries the origin too, so origin
-- 'none' skips it (the local write after it flushes it to WAL)
SELECT pg_replication_origin_session_setup('walcast_upstream');
SELECT 'msg' FROM pg_logical_emit_message(true, 'origin', 'from upstream');
SELECT 'msg' FROM pg_logical_emit_message(false, 'origin', 'upstream, non-transactional');
SELECT pg_replication_origin_session_reset();
SELECT 'msg' FROM pg_logical_emit_message(true, 'origin', 'local');
SELECT walcast.decode(data)
  FROM pg_logical_slot_peek_binary_changes('origin', NULL, NULL);
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('origin', NULL, NULL,
                                          'origin', 'none');

SELECT pg_drop_replication_slot('origin');
SELECT pg_replication_origin_drop('walcast_upstream');
SELECT count(*) FROM pg_replication_origin WHERE roname = 'walcast_upstream';
DROP TABLE origin_t;
