-- filters: include-tables and exclude-tables, schema.table globs with * and
-- ?, matched case-sensitively against the catalog names
SELECT 'init' FROM pg_create_logical_replication_slot('filters', 'walcast');

CREATE SCHEMA filters_app;
CREATE TABLE public.filters_user (id int PRIMARY KEY);
CREATE TABLE public.filters_users (id int PRIMARY KEY);
CREATE TABLE public."Filters_Mixed" (id int PRIMARY KEY);
CREATE TABLE filters_app.orders (id int PRIMARY KEY);
CREATE TABLE filters_app.order1 (id int PRIMARY KEY);
CREATE TABLE filters_app.order22 (id int PRIMARY KEY);

-- one transaction touching every table, then two with one table each
BEGIN;
INSERT INTO public.filters_user VALUES (1);
INSERT INTO public.filters_users VALUES (1);
INSERT INTO public."Filters_Mixed" VALUES (1);
INSERT INTO filters_app.orders VALUES (1);
INSERT INTO filters_app.order1 VALUES (1);
INSERT INTO filters_app.order22 VALUES (1);
COMMIT;
INSERT INTO public.filters_user VALUES (2);
INSERT INTO filters_app.orders VALUES (2);

CREATE FUNCTION filters_decode(VARIADIC options text[] DEFAULT '{}')
RETURNS SETOF text LANGUAGE sql AS $$
	SELECT walcast.decode(data)
	  FROM pg_logical_slot_peek_binary_changes('filters', NULL, NULL, VARIADIC options)
$$;

-- a whole schema
SELECT filters_decode('include-tables', 'filters_app.*');
-- a name is not a prefix: public.filters_user does not match filters_users
SELECT filters_decode('include-tables', 'public.filters_user');
-- ? is exactly one character
SELECT filters_decode('include-tables', 'filters_app.order?');
-- exclude wins over include; a transaction touching only excluded tables
-- sends nothing
SELECT filters_decode('include-tables', 'filters_app.*,public.filters_user*',
	'exclude-tables', 'filters_app.order*,public.filters_user');
-- exclude only, with * on both sides
SELECT filters_decode('exclude-tables', '*.*s');
-- mixed-case names match as stored, unquoted; the case matters
SELECT filters_decode('include-tables', 'public.Filters_Mixed');
SELECT filters_decode('include-tables', 'public.filters_mixed');
SELECT filters_decode('include-tables', '"public"."Filters_Mixed"');

SELECT pg_drop_replication_slot('filters');
DROP FUNCTION filters_decode(text[]);
DROP TABLE public.filters_user, public.filters_users, public."Filters_Mixed";
DROP SCHEMA filters_app CASCADE;
