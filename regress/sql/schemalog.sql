-- schemalog: DDL on tables recorded by the walcast extension's event
-- triggers and sent as SchemaChange messages in their place among the
-- row changes, with the full resulting definition and a version per table
-- that the following Relation messages carry
\pset format unaligned
SET walcast.schema_log = on;
SELECT 'init' FROM pg_create_logical_replication_slot('schemalog', 'walcast');

-- CREATE TABLE: identity, defaults, a generated column, a domain
CREATE DOMAIN sl_positive AS int CHECK (VALUE > 0);
CREATE TABLE sl_t (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    label text NOT NULL DEFAULT 'none',
    qty sl_positive,
    price numeric(10,2) DEFAULT 0,
    total numeric GENERATED ALWAYS AS (qty * price) STORED
);
INSERT INTO sl_t (label, qty, price) VALUES ('one', 1, 1.50);
-- ADD, RENAME, retype, DROP a column, each followed by a row
ALTER TABLE sl_t ADD COLUMN note varchar(20);
INSERT INTO sl_t (label, qty, note) VALUES ('two', 2, 'n');
ALTER TABLE sl_t RENAME COLUMN note TO remark;
ALTER TABLE sl_t ALTER COLUMN remark TYPE text;
INSERT INTO sl_t (label, qty, remark) VALUES ('three', 3, 'r');
ALTER TABLE sl_t DROP COLUMN remark;
-- NOT NULL and DEFAULT set and dropped
ALTER TABLE sl_t ALTER COLUMN qty SET NOT NULL;
ALTER TABLE sl_t ALTER COLUMN label DROP NOT NULL;
ALTER TABLE sl_t ALTER COLUMN price SET DEFAULT 9.99;
ALTER TABLE sl_t ALTER COLUMN label DROP DEFAULT;
INSERT INTO sl_t (label, qty) VALUES ('four', 4);
-- rename the table; change its replica identity
ALTER TABLE sl_t RENAME TO sl_items;
ALTER TABLE sl_items REPLICA IDENTITY FULL;
UPDATE sl_items SET label = 'uno' WHERE id = 1;
CREATE UNIQUE INDEX sl_items_label ON sl_items (label);
ALTER TABLE sl_items ALTER COLUMN label SET NOT NULL,
    REPLICA IDENTITY USING INDEX sl_items_label;
DELETE FROM sl_items WHERE id = 4;

SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog', NULL, NULL);

-- DDL and DML mixed in one transaction come out in order
BEGIN;
INSERT INTO sl_items (label, qty) VALUES ('five', 5);
ALTER TABLE sl_items ADD COLUMN flag boolean DEFAULT true;
INSERT INTO sl_items (label, qty) VALUES ('six', 6);
CREATE TABLE sl_other (k int PRIMARY KEY);
INSERT INTO sl_other VALUES (1);
ALTER TABLE sl_items DROP COLUMN flag;
INSERT INTO sl_items (label, qty) VALUES ('seven', 7);
COMMIT;

-- rolled back: nothing, neither whole nor in a subtransaction
BEGIN;
ALTER TABLE sl_items ADD COLUMN gone int;
INSERT INTO sl_items (label, qty, gone) VALUES ('gone', 1, 1);
ROLLBACK;
BEGIN;
INSERT INTO sl_other VALUES (2);
SAVEPOINT s;
ALTER TABLE sl_other ADD COLUMN gone int;
INSERT INTO sl_other VALUES (3, 3);
ROLLBACK TO SAVEPOINT s;
ALTER TABLE sl_other ADD COLUMN kept int;
INSERT INTO sl_other VALUES (4, 4);
COMMIT;

-- switched off for a session: not recorded, rows still described
SET walcast.schema_log = off;
ALTER TABLE sl_other ADD COLUMN unlogged_change int;
INSERT INTO sl_other VALUES (5, 5, 5);
SET walcast.schema_log = on;

-- temporary tables are never decoded, so not recorded either
CREATE TEMPORARY TABLE sl_temp (a int);
DROP TABLE sl_temp;

-- DROP TABLE says what was dropped
DROP TABLE sl_other;

SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog', NULL, NULL);

-- a new decoding session describes each table with its latest version,
-- read from the log under the historic snapshot
INSERT INTO sl_items (label, qty) VALUES ('eight', 8);
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog', NULL, NULL);

-- the history: one row per change, versions 1, 2, 3... per table
SELECT row_number() OVER (ORDER BY id) AS n, table_name, version, command_tag,
       object_types, object_identities, dropped_identities, table_dropped,
       ddl, ddl_is_statement
  FROM walcast.schema_log ORDER BY id;
SELECT table_name, version, definition
  FROM walcast.schema_log WHERE definition IS NOT NULL ORDER BY id;
SELECT (array_agg(table_name ORDER BY version DESC))[1] AS table_name,
       count(*) AS versions, min(version), max(version),
       max(version) = count(*) AS gap_free
  FROM walcast.schema_log WHERE rel_id IS NOT NULL
 GROUP BY rel_id ORDER BY min(id);
-- the event column is the SchemaChange the plugin sent
SELECT count(*) AS rows, bool_and(length(event) > 0) AS all_have_events
  FROM walcast.schema_log;

-- table filters apply to SchemaChange too; one without a table is
-- always sent
CREATE TABLE sl_inc (id int);
CREATE TABLE sl_exc (id int);
CREATE INDEX sl_exc_id ON sl_exc (id);
DROP TABLE sl_inc, sl_exc;
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog', NULL, NULL,
                                          'exclude-tables', 'public.sl_exc');

-- a definition too big to stay in the row (its event is stored out of
-- line, TOAST): made by DDL in a DO block
DO $$
BEGIN
    EXECUTE 'CREATE TABLE sl_wide (' ||
        (SELECT string_agg(format('column_with_a_long_name_%s text DEFAULT %L', g,
                                  repeat(g::text, 20)), ', ')
           FROM generate_series(1, 300) g) || ')';
END
$$;
INSERT INTO sl_wide (column_with_a_long_name_1) VALUES ('x');
SELECT pg_column_size(event) > 2000 AS big_event,
       pg_column_size(event) < octet_length(event) AS compressed
  FROM walcast.schema_log WHERE table_name = 'sl_wide';
SELECT pg_relation_size(reltoastrelid) > 0 AS toast_used
  FROM pg_class WHERE oid = 'walcast.schema_log'::regclass;
SELECT left(line, 120) AS line, length(line),
       (regexp_match(line, 'column_with_a_long_name_300 text \[default ''(\d+)''::text\]'))[1] AS last_default
  FROM (SELECT walcast.decode(data) AS line
          FROM pg_logical_slot_get_binary_changes('schemalog', NULL, NULL)) d;
DROP TABLE sl_wide;

-- a streamed transaction: the SchemaChange in its place in the stream;
-- runs of rows of one shape are shown once, with their count
CREATE TABLE sl_stream (id int);
BEGIN;
INSERT INTO sl_stream SELECT g FROM generate_series(1, 2000) g;
ALTER TABLE sl_stream ADD COLUMN streamed int;
INSERT INTO sl_stream SELECT g, g FROM generate_series(1, 2000) g;
COMMIT;
SELECT line, count(*)
  FROM (SELECT n, line,
               n - row_number() OVER (PARTITION BY line ORDER BY n) AS run
          FROM (SELECT n, CASE WHEN walcast.decode(data) ~ '^#\d+ INSERT'
                               THEN regexp_replace(walcast.decode(data), '\d+', 'N', 'g')
                               ELSE walcast.decode(data) END AS line
                  FROM pg_logical_slot_get_binary_changes('schemalog', NULL, NULL,
                                                          'streaming', 'on')
                       WITH ORDINALITY AS c(lsn, xid, data, n)) d) r
 GROUP BY line, run
 ORDER BY min(n);
DROP TABLE sl_stream;

-- a prepared transaction on a two-phase slot: its SchemaChanges among its
-- rows, sent at PREPARE
SELECT 'init' FROM pg_create_logical_replication_slot('schemalog_2pc', 'walcast', false, true);
BEGIN;
CREATE TABLE sl_2pc (id int);
INSERT INTO sl_2pc VALUES (1);
ALTER TABLE sl_2pc ADD COLUMN v text;
INSERT INTO sl_2pc VALUES (2, 'two');
PREPARE TRANSACTION 'sl_2pc';
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog_2pc', NULL, NULL);
COMMIT PREPARED 'sl_2pc';
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog_2pc', NULL, NULL);
SELECT pg_drop_replication_slot('schemalog_2pc');
DROP TABLE sl_2pc;

SELECT pg_drop_replication_slot('schemalog');
DROP TABLE sl_items;
DROP DOMAIN sl_positive;
TRUNCATE walcast.schema_log;
