-- twophase: decoding of prepared transactions
--
-- A slot created with two_phase decodes a prepared transaction when it is
-- prepared, as BEGIN PREPARE .. PREPARE, and its end later as COMMIT
-- PREPARED or ROLLBACK PREPARED, each naming the gid.  A slot without
-- two_phase decodes it only at COMMIT PREPARED, as a plain BEGIN .. COMMIT.
-- max_prepared_transactions is 10 in the test configuration.
SELECT 'init' FROM pg_create_logical_replication_slot('twophase', 'walcast',
                                                      false, true);
SELECT 'init' FROM pg_create_logical_replication_slot('twophase_off', 'walcast');
SELECT slot_name, two_phase FROM pg_replication_slots
 WHERE slot_name LIKE 'twophase%' ORDER BY slot_name;

CREATE TABLE twophase_t (id int PRIMARY KEY, label text);

-- PREPARE, decoded, then COMMIT PREPARED in a later read
BEGIN;
INSERT INTO twophase_t VALUES (1, 'one'), (2, 'two');
UPDATE twophase_t SET label = 'uno' WHERE id = 1;
PREPARE TRANSACTION 'tp_commit';
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('twophase', NULL, NULL);
COMMIT PREPARED 'tp_commit';
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('twophase', NULL, NULL);

-- PREPARE, decoded, then ROLLBACK PREPARED in a later read
BEGIN;
DELETE FROM twophase_t WHERE id = 2;
PREPARE TRANSACTION 'tp_rollback';
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('twophase', NULL, NULL);
ROLLBACK PREPARED 'tp_rollback';
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('twophase', NULL, NULL);

-- PREPARE and ROLLBACK PREPARED both before the read: PostgreSQL finds the
-- transaction aborted at its first change and sends its prepare without
-- the changes (test_decoding shows the same)
BEGIN;
DELETE FROM twophase_t WHERE id = 2;
PREPARE TRANSACTION 'tp_rolled_back';
ROLLBACK PREPARED 'tp_rolled_back';
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('twophase', NULL, NULL);

-- the gid is shown as given
BEGIN;
INSERT INTO twophase_t VALUES (3, 'three');
PREPARE TRANSACTION 'gid with spaces/and:punctuation';
COMMIT PREPARED 'gid with spaces/and:punctuation';
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('twophase', NULL, NULL);

-- a prepared transaction that changes nothing decoded still has its
-- BEGIN PREPARE, PREPARE and COMMIT PREPARED (COMMIT PREPARED may be decoded
-- in a later session that cannot know whether the prepare was empty)
BEGIN;
INSERT INTO twophase_t VALUES (4, 'four');
PREPARE TRANSACTION 'tp_filtered';
COMMIT PREPARED 'tp_filtered';
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('twophase', NULL, NULL,
                                          'exclude-tables', 'public.twophase_t');

-- The slot without two_phase saw all of the above only at COMMIT PREPARED,
-- each committed transaction as BEGIN .. COMMIT, the rolled-back one not at
-- all.
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('twophase_off', NULL, NULL);

-- Streaming and two-phase: a prepared transaction too big for
-- logical_decoding_work_mem is streamed in segments, then STREAM PREPARE;
-- COMMIT PREPARED follows in a later read.
BEGIN;
INSERT INTO twophase_t SELECT g, 'row ' || g FROM generate_series(101, 3100) g;
PREPARE TRANSACTION 'tp_stream';
CREATE TEMP TABLE lines AS
    SELECT n, walcast.decode(data) AS line
      FROM pg_logical_slot_get_binary_changes('twophase', NULL, NULL,
                                              'streaming', 'on')
           WITH ORDINALITY AS c(lsn, xid, data, n);
-- the first three and the last two lines
SELECT line FROM lines
 WHERE n <= 3 OR n > (SELECT max(n) - 2 FROM lines) ORDER BY n;
-- how many segments depends on memory accounting: just check that there
-- are several, each opened and closed, and that every row came once, in
-- order
SELECT count(*) FILTER (WHERE line = 'STREAM START first') AS first_starts,
       count(*) FILTER (WHERE line ~ '^STREAM START') > 1 AS several_segments,
       count(*) FILTER (WHERE line ~ '^STREAM START') =
           count(*) FILTER (WHERE line = 'STREAM STOP') AS all_closed,
       count(*) FILTER (WHERE line ~ '^RELATION ') =
           count(*) FILTER (WHERE line ~ '^STREAM START') AS relation_per_segment
  FROM lines;
SELECT count(*) AS rows, count(DISTINCT id) AS ids, min(id), max(id),
       bool_and(id = 100 + pos) AS in_order
  FROM (SELECT (regexp_match(line, ' id=int (\d+) label=text ''row \1''$'))[1]::int AS id,
               row_number() OVER (ORDER BY n) AS pos
          FROM lines
         WHERE line ~ '^#\d+ INSERT public\.twophase_t ') r;
COMMIT PREPARED 'tp_stream';
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('twophase', NULL, NULL,
                                          'streaming', 'on');
-- without two_phase, the whole transaction comes at COMMIT PREPARED, as
-- one BEGIN .. COMMIT (this read does not ask for streaming)
SELECT regexp_replace(line, '^#\d+ INSERT public\.twophase_t .*',
                      'INSERT public.twophase_t ...') AS line,
       count(*)
  FROM (SELECT n, walcast.decode(data) AS line
          FROM pg_logical_slot_get_binary_changes('twophase_off', NULL, NULL)
               WITH ORDINALITY AS c(lsn, xid, data, n)) d
 GROUP BY 1
 ORDER BY min(n);

SELECT count(*) FROM pg_prepared_xacts;
SELECT pg_drop_replication_slot('twophase');
SELECT pg_drop_replication_slot('twophase_off');
DROP TABLE twophase_t;
