-- schemalog_extension: the walcast extension installs the schema log (and
-- needs a superuser), upgrades from 1.0, drops cleanly leaving no trigger
-- behind, and the stream works without it; privileges, the session switch
-- and pruning
\pset format unaligned
SELECT extversion FROM pg_extension WHERE extname = 'walcast';
SELECT evtname, evtevent, evtenabled FROM pg_event_trigger ORDER BY evtname;
SELECT pg_describe_object(classid, objid, objsubid) AS member
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'walcast')
 ORDER BY 1;

-- dropped: no trigger left (the schema walcast stays: CREATE EXTENSION
-- made it, but PostgreSQL does not make it a member of the extension)
DROP EXTENSION walcast;
SELECT count(*) AS event_triggers FROM pg_event_trigger;
SELECT count(*) AS walcast_schemas FROM pg_namespace WHERE nspname = 'walcast';

-- without the extension the stream still works: no SchemaChange, every
-- table still described (schema_version 0); decoded below with 1.0's
-- walcast.decode
SELECT 'init' FROM pg_create_logical_replication_slot('schemalog_ext', 'walcast');
CREATE TABLE sle_t (id int PRIMARY KEY, v text);
INSERT INTO sle_t VALUES (1, 'no extension');
-- version 1.0 has walcast.decode only
CREATE EXTENSION walcast VERSION '1.0';
SELECT count(*) AS event_triggers FROM pg_event_trigger;
ALTER TABLE sle_t ADD COLUMN w int;
INSERT INTO sle_t VALUES (2, '1.0', 2);
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog_ext', NULL, NULL);

-- upgraded to 1.1, on a slot that predates it: DDL is recorded and sent
ALTER EXTENSION walcast UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'walcast';
SELECT evtname FROM pg_event_trigger ORDER BY evtname;
SET walcast.schema_log = on;
ALTER TABLE sle_t DROP COLUMN w;
INSERT INTO sle_t VALUES (3, '1.1');
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog_ext', NULL, NULL);

-- a user without privileges: their DDL is recorded (the trigger runs as
-- the extension's owner), but they can neither switch the log off nor
-- write or read it, nor prune it
CREATE ROLE sle_user;
GRANT CREATE ON SCHEMA public TO sle_user;
SET ROLE sle_user;
SET walcast.schema_log = off;
CREATE TABLE sle_user_t (id int);
INSERT INTO walcast.schema_log (command_tag, object_types, object_identities,
    dropped_identities, table_dropped, ddl, ddl_is_statement, event)
VALUES ('x', '{}', '{}', '{}', false, 'x', true, '\x');
SELECT count(*) FROM walcast.schema_log;
SELECT walcast.prune_schema_log(now());
RESET ROLE;
SELECT table_name, version, command_tag, ddl FROM walcast.schema_log
 WHERE table_name = 'sle_user_t';
DROP TABLE sle_user_t;

SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog_ext', NULL, NULL);

-- pruning keeps each table's latest row, so versions go on; the deletions
-- are not sent
CREATE TABLE sle_prune (id int);
ALTER TABLE sle_prune ADD COLUMN a int;
ALTER TABLE sle_prune ADD COLUMN b int;
SELECT count(*) AS changes
  FROM pg_logical_slot_get_binary_changes('schemalog_ext', NULL, NULL);
SELECT table_name, version FROM walcast.schema_log ORDER BY id;
SELECT walcast.prune_schema_log(clock_timestamp()) AS pruned;
SELECT table_name, version FROM walcast.schema_log ORDER BY id;
ALTER TABLE sle_prune ADD COLUMN c int;
SELECT table_name, version FROM walcast.schema_log
 WHERE table_name = 'sle_prune' ORDER BY id;
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('schemalog_ext', NULL, NULL);

SELECT pg_drop_replication_slot('schemalog_ext');
DROP TABLE sle_t, sle_prune;
REVOKE CREATE ON SCHEMA public FROM sle_user;
DROP ROLE sle_user;
TRUNCATE walcast.schema_log;
