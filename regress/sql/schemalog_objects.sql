-- schemalog_objects: the schema log across object kinds (tables made by
-- queries, indexes, partitions, schemas, triggers, views, sequences,
-- types) and across the ways DDL reaches the server (several statements in
-- one query string, functions)
\pset format unaligned
SET walcast.schema_log = on;
SELECT 'init' FROM pg_create_logical_replication_slot('schemalog_objects', 'walcast');

-- tables made by a query: the statement's rows come first (described with
-- version 0), then its SchemaChange, which fires at the statement's end
CREATE TABLE slo_src (id int PRIMARY KEY, v text);
INSERT INTO slo_src VALUES (1, 'a'), (2, 'b');
CREATE TABLE slo_ctas AS SELECT id, v FROM slo_src;
SELECT id * 10 AS id10 INTO slo_into FROM slo_src;
INSERT INTO slo_ctas VALUES (3, 'c');
-- indexes: created and dropped, no table version
CREATE INDEX slo_ctas_v ON slo_ctas (v);
DROP INDEX slo_ctas_v;
DROP TABLE slo_ctas, slo_into;

SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog_objects', NULL, NULL);

-- partitioned tables: a partition created, attached, detached (each a new
-- version of the partition too); a column added to the parent reaches
-- every partition; partition bounds print the same under any DateStyle
SET datestyle = 'Postgres, MDY';
CREATE TABLE slo_p (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE slo_p1 PARTITION OF slo_p FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE slo_p2 (id int NOT NULL, at date NOT NULL);
ALTER TABLE slo_p ATTACH PARTITION slo_p2 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO slo_p VALUES (1, '2024-06-01'), (2, '2025-06-01');
ALTER TABLE slo_p ADD COLUMN note text;
INSERT INTO slo_p VALUES (3, '2025-07-01', 'n');
ALTER TABLE slo_p RENAME COLUMN note TO remark;
ALTER TABLE slo_p RENAME TO slo_parent;
ALTER TABLE slo_parent RENAME TO slo_p;
ALTER TABLE slo_p DETACH PARTITION slo_p1;
INSERT INTO slo_p1 VALUES (4, '2024-07-01', 'detached');
-- inheritance children too
CREATE TABLE slo_inh_parent (id int);
CREATE TABLE slo_inh_child () INHERITS (slo_inh_parent);
ALTER TABLE slo_inh_parent ADD COLUMN extra text;

SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog_objects', NULL, NULL);

-- schemas: created with their elements, dropped with CASCADE
CREATE SCHEMA slo_s
    CREATE TABLE a (id int PRIMARY KEY)
    CREATE TABLE b (id int)
    CREATE VIEW va AS SELECT id FROM a;
INSERT INTO slo_s.a VALUES (1);
DROP SCHEMA slo_s CASCADE;

-- triggers, views, sequences, types
CREATE FUNCTION slo_trg() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN RETURN NEW; END$$;
CREATE TRIGGER slo_src_trg BEFORE INSERT ON slo_src
    FOR EACH ROW EXECUTE FUNCTION slo_trg();
DROP TRIGGER slo_src_trg ON slo_src;
CREATE VIEW slo_v AS SELECT id FROM slo_src;
CREATE OR REPLACE VIEW slo_v AS SELECT id, v FROM slo_src;
DROP VIEW slo_v;
CREATE SEQUENCE slo_seq START 10;
ALTER SEQUENCE slo_seq INCREMENT BY 5;
DROP SEQUENCE slo_seq;
CREATE TYPE slo_mood AS ENUM ('sad', 'ok');
ALTER TYPE slo_mood ADD VALUE 'happy';
ALTER TYPE slo_mood ADD VALUE 'meh' BEFORE 'ok';
ALTER TABLE slo_src ADD COLUMN mood slo_mood;
INSERT INTO slo_src VALUES (3, 'c', 'happy');

SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog_objects', NULL, NULL);

-- several statements in one query string (psql sends the line as one
-- query): each is recorded with its own text
CREATE TABLE slo_multi (a int) \; INSERT INTO slo_multi VALUES (1) \; ALTER TABLE slo_multi ADD COLUMN b int \; INSERT INTO slo_multi VALUES (2, 2);
-- DDL inside functions: the text of the statement in the function
CREATE FUNCTION slo_add_column(col text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE slo_multi ADD COLUMN %I int', col);
    ALTER TABLE slo_multi ALTER COLUMN a SET NOT NULL;
END
$$;
SELECT slo_add_column('c');
CREATE FUNCTION slo_sql_ddl() RETURNS void LANGUAGE sql AS $$
ALTER TABLE slo_multi DROP COLUMN c;
ALTER TABLE slo_multi RENAME COLUMN b TO bee;
$$;
SELECT slo_sql_ddl();

SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog_objects', NULL, NULL);

-- in a new session, DDL in a function before walcast.so is loaded: the
-- statement is not known, so the whole query is recorded, marked as such
-- (add walcast to session_preload_libraries to avoid it); once loaded,
-- the statement is known
\c
\pset format unaligned
SET walcast.schema_log = on;
SELECT slo_add_column('d');
SELECT slo_add_column('e');
SELECT command_tag, table_name, version, ddl, ddl_is_statement
  FROM walcast.schema_log ORDER BY id DESC LIMIT 4;

SELECT pg_drop_replication_slot('schemalog_objects');
DROP TABLE slo_src, slo_p, slo_p1, slo_multi, slo_inh_parent, slo_inh_child;
DROP FUNCTION slo_trg(), slo_add_column(text), slo_sql_ddl();
DROP TYPE slo_mood;
TRUNCATE walcast.schema_log;
