-- stream: streaming of in-progress transactions (option streaming)
--
-- logical_decoding_work_mem is 64kB in the test configuration, so a
-- transaction writing a few thousand rows is streamed in segments, each
-- framed by STREAM START and STREAM STOP, and closed by STREAM COMMIT or
-- STREAM ABORT.  Thousands of rows are too many to show: the views below
-- show the framing and count the rows, and check the rows against what was
-- written.
SELECT 'init' FROM pg_create_logical_replication_slot('stream', 'walcast');

-- the option takes a boolean
SELECT count(*)
  FROM pg_logical_slot_peek_binary_changes('stream', NULL, NULL,
                                           'streaming', 'maybe');

CREATE TABLE stream_t (id int PRIMARY KEY, payload text);
CREATE TABLE stream_u (id int);

CREATE TEMP TABLE lines (n bigint, line text);

-- collect(opt, val, ...): read the slot into lines, one decoded message a row
CREATE FUNCTION pg_temp.collect(VARIADIC opts text[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM lines;
    INSERT INTO lines
        SELECT n, walcast.decode(data)
          FROM pg_logical_slot_get_binary_changes('stream', NULL, NULL,
                                                  VARIADIC opts)
               WITH ORDINALITY AS c(lsn, xid, data, n);
$$;

-- shape: the stream in lines, with each run of row changes to one table
-- shown once as "INSERT public.t ...", and each streamed segment (STREAM
-- START to STREAM STOP) on one line.  Consecutive segments of the same shape
-- are merged into one line, the column segments saying "one" or "several":
-- how many segments a transaction needs depends on PostgreSQL's memory
-- accounting, not on walcast.  Change numbers of other changes show as #n
-- (rows_seen checks that they ascend).
CREATE TEMP VIEW shape AS
WITH k AS (
    SELECT n, line,
           count(*) FILTER (WHERE line ~ '^STREAM START') OVER w AS starts,
           count(*) FILTER (WHERE line = 'STREAM STOP') OVER w AS stops,
           line ~ '^#\d+ (INSERT|UPDATE|DELETE) ' AS is_row
      FROM lines
    WINDOW w AS (ORDER BY n)
), items AS (
    SELECT n,
           CASE WHEN starts > stops OR line = 'STREAM STOP' THEN starts END AS seg,
           CASE WHEN is_row
                THEN regexp_replace(line, '^#\d+ (\S+ \S+) .*$', '\1 ...')
                ELSE regexp_replace(line, '^#\d+ ', '#n ') END AS item
      FROM k
), runs AS (
    SELECT n, seg, item,
           count(*) FILTER (WHERE new_run) OVER (ORDER BY n) AS run
      FROM (SELECT n, seg, item,
                   item IS DISTINCT FROM lag(item) OVER (ORDER BY n)
                   OR seg IS DISTINCT FROM lag(seg) OVER (ORDER BY n)
                   AS new_run
              FROM items) i
), groups AS (
    -- a segment, or a run of equal items outside segments
    SELECT min(n) AS n, bool_or(seg IS NOT NULL) AS is_seg,
           string_agg(item, ' | ' ORDER BY n) AS text
      FROM (SELECT DISTINCT ON (run) * FROM runs ORDER BY run, n) r
     GROUP BY coalesce(seg, -run)
), merged AS (
    SELECT n, is_seg, text,
           text IS DISTINCT FROM lag(text) OVER (ORDER BY n) AS new_group
      FROM groups
), numbered AS (
    SELECT n, is_seg, text,
           count(*) FILTER (WHERE new_group) OVER (ORDER BY n) AS grp
      FROM merged
)
SELECT CASE WHEN NOT bool_and(is_seg) THEN ''
            WHEN count(*) = 1 THEN 'one' ELSE 'several' END AS segments,
       min(text) AS stream
  FROM numbered
 GROUP BY grp
 ORDER BY min(n);

-- rows_seen: the row changes to stream_t by payload: how many, which ids,
-- whether the ids ascend and whether the change numbers ascend in stream order
CREATE TEMP VIEW rows_seen AS
WITH r AS (
    SELECT n, (regexp_match(line, '^#(\d+) '))[1]::bigint AS change,
           (regexp_match(line, ' id=int (\d+)'))[1]::bigint AS id,
           (regexp_match(line, ' payload=text ''([a-z ]+) '))[1] AS payload
      FROM lines
     WHERE line ~ '^#\d+ (INSERT|UPDATE|DELETE) public\.stream_t '
), o AS (
    SELECT *, lag(id) OVER (PARTITION BY payload ORDER BY n) AS prev_id,
           lag(change) OVER (ORDER BY n) AS prev_change
      FROM r
)
SELECT payload, count(*) AS rows, count(DISTINCT id) AS ids, min(id), max(id),
       bool_and(id > prev_id) AS ids_ascend,
       bool_and(change > prev_change) AS changes_ascend
  FROM o
 GROUP BY payload
 ORDER BY min(n);

-- A big transaction with streaming on: STREAM START first, then further
-- segments, each sending the table's RELATION again before its rows, then
-- STREAM COMMIT.  All 3,000 rows arrive, in order.
INSERT INTO stream_t SELECT g, 'row ' || g FROM generate_series(1, 3000) g;
SELECT pg_temp.collect('streaming', 'on');
SELECT * FROM shape;
SELECT * FROM rows_seen;

-- The same transaction with streaming off (the default) comes whole, as one
-- BEGIN .. COMMIT, when it commits.
UPDATE stream_t SET payload = 'new ' || id;
SELECT pg_temp.collect('streaming', 'off');
SELECT * FROM shape;
SELECT * FROM rows_seen;
DELETE FROM stream_t;
SELECT pg_temp.collect('streaming', 'off');
SELECT * FROM shape;
SELECT count(*) AS deletes FROM lines WHERE line ~ '^#\d+ DELETE public\.stream_t old key old: id=int \d+ payload=not-in-key$';

-- A small transaction is not streamed even with streaming on.
INSERT INTO stream_t VALUES (0, 'small');
SELECT pg_temp.collect('streaming', 'on');
SELECT line FROM lines ORDER BY n;

-- A transaction rolled back before it is decoded leaves no trace:
-- PostgreSQL finds it aborted at its first change and stops streaming it
-- before walcast writes anything.
BEGIN;
INSERT INTO stream_t SELECT g, 'row ' || g FROM generate_series(1, 3000) g;
ROLLBACK;
SELECT pg_temp.collect('streaming', 'on');
SELECT count(*) FROM lines;

-- A transaction decoded while still in progress (here a prepared
-- transaction, which this slot, created without two-phase, decodes only when
-- it ends) is streamed as far as it goes.  The next read starts a new
-- decoding session: a transaction rolled back meanwhile then leaves nothing
-- more, since that session never streamed it (test_decoding does the same).
BEGIN;
INSERT INTO stream_t SELECT g, 'row ' || g FROM generate_series(1, 3000) g;
PREPARE TRANSACTION 'stream_abort';
SELECT pg_temp.collect('streaming', 'on');
SELECT * FROM shape;
SELECT rows > 0 AND rows < 3000 AS some_rows, ids = rows AS distinct_ids,
       min, ids_ascend, changes_ascend
  FROM rows_seen;
ROLLBACK PREPARED 'stream_abort';
SELECT pg_temp.collect('streaming', 'on');
SELECT count(*) FROM lines;

-- Committed meanwhile, it comes whole in the next session, which has not
-- streamed any of it, as BEGIN .. COMMIT: a consumer must drop what it got
-- of a streamed transaction when the session that sent it ends.
BEGIN;
INSERT INTO stream_t SELECT g, 'row ' || g FROM generate_series(1, 3000) g;
PREPARE TRANSACTION 'stream_commit';
SELECT pg_temp.collect('streaming', 'on');
SELECT count(*) > 0 AS streamed, bool_and(line !~ '^STREAM (COMMIT|ABORT)') AS unfinished
  FROM lines WHERE line ~ '^STREAM';
COMMIT PREPARED 'stream_commit';
SELECT pg_temp.collect('streaming', 'on');
SELECT * FROM shape;
SELECT * FROM rows_seen;

-- A streamed transaction whose tables are all filtered out leaves no trace:
-- no segment and no STREAM COMMIT.
INSERT INTO stream_t SELECT g, 'row ' || g FROM generate_series(3001, 6000) g;
SELECT pg_temp.collect('streaming', 'on', 'exclude-tables', 'public.stream_t');
SELECT count(*) FROM lines;
TRUNCATE stream_t;
SELECT pg_temp.collect('streaming', 'on', 'exclude-tables', 'public.stream_t');
SELECT count(*) FROM lines;

-- Messages, a truncate and a rolled-back subtransaction inside a streamed
-- transaction.  The subtransaction's rows are streamed before its rollback
-- is decoded, then STREAM ABORT subtransaction tells the consumer to discard
-- them; the rest of the transaction still commits.  The non-transactional
-- message is not part of the transaction and comes at once, outside the
-- segments.
BEGIN;
SELECT 'msg' FROM pg_logical_emit_message(true, 'stream', 'first');
SELECT 'msg' FROM pg_logical_emit_message(false, 'stream', 'non-transactional');
INSERT INTO stream_u VALUES (1);
INSERT INTO stream_t SELECT g, 'row ' || g FROM generate_series(1, 2000) g;
SAVEPOINT s1;
INSERT INTO stream_t
    SELECT g, 'rolled back ' || g FROM generate_series(2001, 4000) g;
ROLLBACK TO SAVEPOINT s1;
INSERT INTO stream_t SELECT g, 'row ' || g FROM generate_series(2001, 2010) g;
TRUNCATE stream_u;
SELECT 'msg' FROM pg_logical_emit_message(true, 'stream', 'last');
COMMIT;
SELECT pg_temp.collect('streaming', 'on');
SELECT * FROM shape;
-- the committed rows are all there; some of the rolled-back ones were
-- streamed, all of them before STREAM ABORT subtransaction
SELECT * FROM rows_seen;
SELECT count(*) > 0 AS some_streamed,
       max(n) < (SELECT n FROM lines WHERE line ~ '^STREAM ABORT') AS before_abort
  FROM lines
 WHERE line ~ '^#\d+ INSERT public\.stream_t .*''rolled back';

-- STREAM ABORT of a whole transaction: the next read starts again before
-- that transaction, and PostgreSQL (15) streams it again, because of its
-- TRUNCATE, then finds its commit already confirmed and has it aborted
-- (test_decoding shows the same).  A genuine rollback of a transaction
-- streamed in the same session needs a walsender connection.
INSERT INTO stream_u VALUES (2);
SELECT pg_temp.collect('streaming', 'on');
SELECT * FROM shape;

SELECT pg_drop_replication_slot('stream');
DROP TABLE stream_t, stream_u;
