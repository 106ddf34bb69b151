/* plugin/walcast--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION walcast" to load this file. \quit

-- One walcast message (a row of pg_logical_slot_get_binary_changes) as a
-- line of text.  Without verbose, what differs between runs (LSNs, xids,
-- times, oids) is left out.
CREATE FUNCTION decode(message bytea, verbose boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'walcast_decode'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

COMMENT ON FUNCTION decode(bytea, boolean) IS
'render one walcast.v1.Envelope as text';
