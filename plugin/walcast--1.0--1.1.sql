/* plugin/walcast--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION walcast UPDATE TO '1.1'" to load this file. \quit

-- The schema log: every DDL statement recorded by the event triggers below,
-- in the statement's own transaction, as one row per table whose
-- definition it created, changed or dropped (or one row without a table).
-- The walcast plugin sends each row it decodes as a SchemaChange message
-- (the event column) in its place among the transaction's changes, and
-- never as a row.  It is a user_catalog_table so that the plugin can read a
-- table's latest version under the historic snapshot of decoding.
CREATE SEQUENCE schema_log_id_seq;

CREATE TABLE schema_log (
    id bigint PRIMARY KEY DEFAULT nextval('walcast.schema_log_id_seq'),
    rel_id oid,                 -- the table, NULL when the statement touched none
    schema_name text,           -- its schema and name after the statement
    table_name text,            -- (as they were, for a dropped table)
    version bigint,             -- the table's version: 1, 2, 3... per table
    command_tag text NOT NULL,  -- 'ALTER TABLE'
    object_types text[] NOT NULL,       -- of every object created, altered, dropped
    object_identities text[] NOT NULL,  -- of every object created or altered
    dropped_identities text[] NOT NULL, -- of every object dropped
    table_dropped boolean NOT NULL,     -- the statement dropped the table
    ddl text NOT NULL,          -- the statement's text
    ddl_is_statement boolean NOT NULL,  -- false: ddl is the client's whole query
    definition text,            -- the table's resulting definition, readable
    recorded_at timestamptz NOT NULL DEFAULT now(),
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event bytea NOT NULL,       -- the walcast.v1.SchemaChange message
    CONSTRAINT schema_log_rel_id_version_key UNIQUE (rel_id, version),
    CONSTRAINT schema_log_version_check CHECK ((rel_id IS NULL) = (version IS NULL))
) WITH (user_catalog_table = true);

ALTER SEQUENCE schema_log_id_seq OWNED BY schema_log.id;

COMMENT ON TABLE schema_log IS
'DDL recorded by the walcast event triggers, sent by the walcast plugin as SchemaChange messages';

-- Not marked for pg_dump (pg_extension_config_dump): the history names
-- tables by oid, which a restored database does not keep; a restored
-- database starts a history of its own.

-- The event trigger functions run as the extension's owner (a superuser),
-- whoever runs the DDL, so that only they write the log.  Expressions in
-- the definitions (defaults, partition bounds) are printed under fixed
-- settings, whatever the session's.  log_ddl sets search_path to
-- pg_catalog, pg_temp itself, once it has looked up the partition named
-- by ATTACH or DETACH PARTITION under the session's path.
CREATE FUNCTION log_ddl() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'walcast_log_ddl'
LANGUAGE C SECURITY DEFINER
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
SET timezone = 'UTC'
SET extra_float_digits = 1;

CREATE FUNCTION log_drop() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'walcast_log_drop'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION log_ddl() FROM PUBLIC;
REVOKE ALL ON FUNCTION log_drop() FROM PUBLIC;

CREATE EVENT TRIGGER walcast_log_drop ON sql_drop
EXECUTE FUNCTION log_drop();

CREATE EVENT TRIGGER walcast_log_ddl ON ddl_command_end
EXECUTE FUNCTION log_ddl();

-- Delete the history recorded before older_than, except each table's latest
-- row, which keeps its version counting on.  Returns the rows deleted.  The
-- lock waits for transactions that are writing the log.
CREATE FUNCTION prune_schema_log(older_than timestamptz) RETURNS bigint
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
LOCK TABLE walcast.schema_log IN SHARE ROW EXCLUSIVE MODE;
WITH pruned AS (
    DELETE FROM walcast.schema_log AS l
     WHERE l.recorded_at < older_than
       AND (l.rel_id IS NULL
            OR l.version < (SELECT max(m.version) FROM walcast.schema_log AS m
                             WHERE m.rel_id = l.rel_id))
    RETURNING 1)
SELECT count(*) FROM pruned;
$$;

REVOKE ALL ON FUNCTION prune_schema_log(timestamptz) FROM PUBLIC;

COMMENT ON FUNCTION prune_schema_log(timestamptz) IS
'delete schema log rows recorded before a time, keeping each table''s latest';
