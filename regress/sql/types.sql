-- types: every mapped type with its edge values, as the Value field the
-- contract names; the types without a mapping as their text output
-- (pg_text); and date/time values that do not depend on DateStyle or
-- TimeZone.  Values over 200 bytes render as "(N bytes, md5 HEX)", checked
-- against the same computed in SQL.
SELECT 'init' FROM pg_create_logical_replication_slot('types', 'walcast');

CREATE TYPE types_mood AS ENUM ('sad', 'ok', 'it''s');
CREATE DOMAIN types_posint AS int CHECK (VALUE > 0);
CREATE DOMAIN types_word AS text;
CREATE TYPE types_pair AS (a int, b text);

CREATE TABLE types_bool (id int PRIMARY KEY, v bool);
CREATE TABLE types_int (id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, o oid);
CREATE TABLE types_float (id int PRIMARY KEY, f4 float4, f8 float8);
CREATE TABLE types_numeric (id int PRIMARY KEY, v numeric, fixed numeric(10,2),
	neg_scale numeric(4,-2));
CREATE TABLE types_text (id int PRIMARY KEY, t text, vc varchar(10), c char(5),
	n name, ch "char");
CREATE TABLE types_bytea (id int PRIMARY KEY, v bytea);
CREATE TABLE types_uuid (id int PRIMARY KEY, v uuid);
CREATE TABLE types_json (id int PRIMARY KEY, j json, jb jsonb);
CREATE TABLE types_time (id int PRIMARY KEY, d date, t time, ttz timetz,
	ts timestamp, tstz timestamptz, iv interval);
CREATE TABLE types_enum (id int PRIMARY KEY, v types_mood);
CREATE TABLE types_domain (id int PRIMARY KEY, n types_posint, w types_word);
CREATE TABLE types_array (id int PRIMARY KEY, v int[], t text[],
	e types_mood[], n numeric[], u uuid[]);
CREATE TABLE types_other (id int PRIMARY KEY, pair types_pair,
	r int4range, nr numrange, addr inet, m money, p point);
CREATE TABLE types_generated (id int PRIMARY KEY, a int,
	twice int GENERATED ALWAYS AS (a * 2) STORED);
-- text-output values whose text would follow session settings
CREATE TYPE types_settings_row AS (iv interval, b bytea, ts timestamptz, f float8);
CREATE TABLE types_settings (id int PRIMARY KEY, tr tsrange, r tstzrange,
	p point, rw types_settings_row);

INSERT INTO types_bool VALUES (1, true), (2, false), (3, NULL);
INSERT INTO types_int VALUES
	(1, -32768, -2147483648, -9223372036854775808, 0),
	(2, 32767, 2147483647, 9223372036854775807, 4294967295),
	(3, 0, -1, 1, NULL);
INSERT INTO types_float VALUES
	(1, 'NaN', 'NaN'),
	(2, 'Infinity', 'Infinity'),
	(3, '-Infinity', '-Infinity'),
	(4, '-0', '-0'),
	(5, 3.4028235e38, 1.7976931348623157e308),
	(6, 1.4e-45, 5e-324),
	(7, 1.17549435e-38, 2.2250738585072014e-308),
	(8, 0.1, 0.1),
	(9, -123.456, -123.456);
INSERT INTO types_numeric VALUES
	(1, 'NaN', NULL, NULL),
	(2, 'Infinity', NULL, NULL),
	(3, '-Infinity', NULL, NULL),
	(4, -12.3400, 1.5, 123456),
	(5, 0.000001, -99999999.99, -149),
	(6, 0, 0, 0),
	(7, 2::numeric ^ 3000 + 0.5, NULL, NULL),
	(8, -(10::numeric ^ 999) + 1, NULL, NULL),
	(9, '1e-1000', NULL, NULL);
INSERT INTO types_text VALUES
	(1, 'it''s', 'abc', 'ab', 'a name', 'x'),
	(2, '', '', '', '', ' '),
	(3, 'héllo wörld ✓ 中文 😀', 'ünï', 'é', 'ñame', 'Z'),
	(4, repeat('ab', 150), NULL, NULL, repeat('n', 63), NULL);
INSERT INTO types_bytea VALUES
	(1, ''),
	(2, '\x00ff0a27'),
	(3, (SELECT string_agg(decode(md5(i::text), 'hex'), '')
		   FROM generate_series(1, 20) i)),
	(4, NULL);
INSERT INTO types_uuid VALUES
	(1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
	(2, '00000000-0000-0000-0000-000000000000'),
	(3, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
INSERT INTO types_json VALUES
	(1, '{"b": 1,  "a": [1, 2.50, "it''s"]}', '{"b": 1,  "a": [1, 2.50, "it''s"]}'),
	(2, '"ünï"', 'null'),
	(3, '[]', '{}');
INSERT INTO types_time VALUES
	(1, '2024-02-29', '00:00:00', '00:00:00+00', '2024-01-02 03:04:05.5',
		'2024-01-02 03:04:05.5+00', '1 year 2 mons 3 days 04:05:06.000007'),
	(2, '1970-01-01', '23:59:59.999999', '23:59:59.999999-12',
		'1970-01-01 00:00:00', '1970-01-01 00:00:00+00', '0'),
	(3, '1969-12-31', '24:00:00', '12:34:56.789+05:30', '1969-12-31 23:59:59.999999',
		'2024-06-30 12:00:00-07', '-1 mons -2 days -00:00:00.000001'),
	(4, '-infinity', '00:00:00.000001', '01:02:03+15:59', '-infinity',
		'-infinity', '178000000 years'),
	(5, 'infinity', NULL, '01:02:03-15:59', 'infinity', 'infinity',
		'-178000000 years'),
	(6, '0044-03-15 BC', '12:00', '12:00+00', '0044-03-15 12:00:00 BC',
		'0001-01-01 00:00:00+00 BC', '2147483647 days'),
	(7, '4714-11-24 BC', NULL, NULL, '4714-11-24 00:00:00 BC',
		'4714-11-24 00:00:00+00 BC', '-2147483648 days'),
	(8, '5874897-12-31', NULL, NULL, '294276-12-31 23:59:59.999999',
		'294276-12-31 23:59:59.999999+00', '1 microsecond'),
	(9, '2000-01-01', NULL, NULL, '294247-01-10 04:00:54.775806',
		'294247-01-10 04:00:54.775807+00', NULL);
INSERT INTO types_enum VALUES (1, 'sad'), (2, 'it''s'), (3, NULL);
INSERT INTO types_domain VALUES (1, 42, 'word'), (2, NULL, '');
INSERT INTO types_array VALUES
	(1, '{1,NULL,3}', '{"a\"b","c,d",NULL,"it''s",""}', '{sad,NULL,it''s}',
		'{1.50,NaN,-Infinity,Infinity}',
		'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}'),
	(2, '{{1,2},{3,4}}', '{{a},{b}}', '{}', '{}', '{}'),
	(3, '[2:3]={1,2}', '[-1:0][5:5]={{x},{y}}', NULL, NULL, NULL),
	(4, '{}', '{}', '{}', '{{{1}}}', '{}'),
	(5, '{{{1,2},{3,4}},{{5,6},{7,8}}}', NULL, NULL, NULL, NULL);
INSERT INTO types_other VALUES
	(1, ROW(1, 'x y'), '[1,10)', '[1.5,2.25)',
		'192.168.0.1/24', 12.34, '(1,2.5)'),
	(2, ROW(NULL, 'it''s'), 'empty', '(,)', '::1', -0.01, '(-1e+300,0)');
INSERT INTO types_generated (id, a) VALUES (1, 21), (2, NULL);
INSERT INTO types_settings VALUES
	(1, '[2024-01-01,2024-01-02 12:30)', '[2024-01-01 00:00+00,2024-01-02 00:00+00)',
		'(0,1.0000000000000002)',
		ROW('1 year 2 days 03:04:05.5', '\x00ff', '2024-06-01 12:00+02', 0.1));

-- what PostgreSQL stored, for reading the decoded values against
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SET intervalstyle = 'postgres';
SET extra_float_digits = 3;
SELECT * FROM types_float ORDER BY id;
SELECT id, v, fixed, neg_scale FROM types_numeric WHERE id NOT IN (7, 8, 9) ORDER BY id;
SELECT id, octet_length(v::text) AS bytes, md5(v::text) FROM types_numeric
 WHERE id IN (7, 8, 9) ORDER BY id;
SELECT id, octet_length(t) AS t_bytes, md5(t) AS t_md5, c, octet_length(c::text) AS c_len
  FROM types_text ORDER BY id;
SELECT id, octet_length(v) AS bytes, md5(v) FROM types_bytea ORDER BY id;
SELECT id, jb FROM types_json ORDER BY id;
SELECT * FROM types_time ORDER BY id;
SELECT id, d - '1970-01-01' AS days_since_epoch,
       extract(epoch FROM ts) * 1000000 AS ts_us,
       extract(epoch FROM tstz) * 1000000 AS tstz_us
  FROM types_time WHERE id <= 3 ORDER BY id;
SELECT * FROM types_array ORDER BY id;
SELECT * FROM types_other ORDER BY id;
SELECT * FROM types_generated ORDER BY id;
RESET extra_float_digits;
RESET intervalstyle;
RESET timezone;
RESET datestyle;

-- decode under the regression suite's defaults (DateStyle Postgres, MDY and
-- TimeZone PST8PDT)
CREATE TEMP TABLE types_out1 AS
SELECT n, walcast.decode(data) AS line
  FROM pg_logical_slot_peek_binary_changes('types', NULL, NULL)
  WITH ORDINALITY AS c(lsn, xid, data, n);
SELECT line FROM types_out1
 WHERE line NOT LIKE 'BEGIN%' AND line NOT LIKE 'COMMIT%' ORDER BY n;

-- the long values are exact
SELECT count(*) AS exact_long_values FROM types_out1 o, types_numeric t
 WHERE t.id IN (7, 8, 9)
   AND o.line LIKE format('%% INSERT public.types_numeric new: id=int %s v=numeric (%s bytes, md5 %s) %%',
						  t.id, octet_length(t.v::text), md5(t.v::text));
SELECT count(*) AS exact_long_values FROM types_out1 o, types_text t
 WHERE t.id = 4
   AND o.line LIKE format('%% t=text (%s bytes, md5 %s) %%', octet_length(t.t), md5(t.t));
SELECT count(*) AS exact_long_values FROM types_out1 o, types_bytea t
 WHERE t.id = 3
   AND o.line LIKE format('%% v=bytes (%s bytes, md5 %s)', octet_length(t.v), md5(t.v));

-- the same changes decoded under another DateStyle, TimeZone,
-- IntervalStyle and extra_float_digits: nothing moves (the last query lists
-- lines that differ).  That includes the pg_text values of types_settings,
-- which the plugin makes under fixed settings.
SET datestyle = 'SQL, DMY';
SET timezone = 'Asia/Kathmandu';
SET intervalstyle = 'iso_8601';
SET extra_float_digits = 0;
SET bytea_output = 'escape';
CREATE TEMP TABLE types_out2 AS
SELECT n, walcast.decode(data) AS line
  FROM pg_logical_slot_peek_binary_changes('types', NULL, NULL)
  WITH ORDINALITY AS c(lsn, xid, data, n);
SELECT line FROM types_out2 WHERE line LIKE '%types_time%' ORDER BY n;
SELECT o1.line AS default_settings, o2.line AS other_settings
  FROM types_out1 o1 JOIN types_out2 o2 USING (n)
 WHERE o1.line <> o2.line ORDER BY n;
RESET bytea_output;
RESET extra_float_digits;
RESET intervalstyle;
RESET timezone;
RESET datestyle;

SELECT count(*) > 0 AS consumed FROM pg_logical_slot_get_binary_changes('types', NULL, NULL);
SELECT pg_drop_replication_slot('types');
DROP TABLE types_bool, types_int, types_float, types_numeric, types_text,
	types_bytea, types_uuid, types_json, types_time, types_enum, types_domain,
	types_array, types_other, types_generated, types_settings;
DROP TYPE types_settings_row;
DROP TYPE types_pair;
DROP DOMAIN types_word;
DROP DOMAIN types_posint;
DROP TYPE types_mood;
