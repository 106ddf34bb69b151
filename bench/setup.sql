-- bench/setup.sql: tables and helper functions of the benchmark
--
-- Run once in database "bench" before any slot exists, so that nothing here
-- is in the WAL the plugins decode.  The publications are created here too:
-- a publication must predate the slots that read it.

-- The wide table: one column of each common type.  Rows are about 300
-- bytes on disk.
CREATE TABLE bench_wide (
    id      bigint PRIMARY KEY,
    i       int,
    s       smallint,
    b       bigint,
    n       numeric(14, 4),
    f8      float8,
    t       text,
    v       varchar(40),
    ts      timestamptz,
    dt      date,
    flag    bool,
    j       jsonb,
    u       uuid,
    raw     bytea
);

CREATE PUBLICATION bench_all FOR ALL TABLES;
-- the floor: pgoutput reads and reorders the same WAL but sends no row
CREATE PUBLICATION bench_none;

-- bench_rows(first, n): n rows of bench_wide, ids first .. first + n - 1
CREATE FUNCTION bench_rows(first bigint, n bigint)
RETURNS SETOF bench_wide
LANGUAGE sql STABLE AS $$
    SELECT g, (g % 100000)::int, (g % 30000)::smallint, g * 1000003,
           (g / 7.0)::numeric(14, 4), g * 0.25,
           'row ' || g || ' ' || repeat('x', (g % 40)::int),
           'v' || g,
           '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 second',
           date '2024-01-01' + (g % 1000)::int,
           g % 2 = 0,
           jsonb_build_object('id', g, 'tag', 'tag' || (g % 100),
                              'ok', g % 3 = 0, 'score', g / 3.0),
           md5(g::text)::uuid,
           decode(md5(g::text), 'hex')
      FROM generate_series(first, first + n - 1) g
$$;

-- bench_by_id(stmt, nrows, per_xact): run stmt, a statement with parameters
-- $1 and $2, for the ids 1 .. nrows, per_xact ids at a time, committing each
CREATE PROCEDURE bench_by_id(stmt text, nrows bigint, per_xact int)
LANGUAGE plpgsql AS $$
DECLARE
    lo bigint := 1;
BEGIN
    WHILE lo <= nrows LOOP
        EXECUTE stmt USING lo, least(lo + per_xact - 1, nrows);
        COMMIT;
        lo := lo + per_xact;
    END LOOP;
END
$$;

-- bench_decode(slot, upto, options): decode the slot up to upto without
-- consuming it, through the SQL interface, and time it on the server
--
-- Time is clock_timestamp() around the one query that reads every message
-- (decoding, the plugin, and the SQL function's tuplestore), so the client
-- and the network are not in it.  The messages are only counted and their
-- bytes summed.
CREATE FUNCTION bench_decode(slot name, upto pg_lsn, options text[],
                             OUT secs float8, OUT messages bigint,
                             OUT bytes bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
BEGIN
    t0 := clock_timestamp();
    SELECT count(*), coalesce(sum(octet_length(data)), 0)
      INTO messages, bytes
      FROM pg_logical_slot_peek_binary_changes(slot, upto, NULL,
                                               VARIADIC options);
    secs := extract(epoch FROM clock_timestamp() - t0);
END
$$;
