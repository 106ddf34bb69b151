-- toast: large out-of-line values are sent whole when written, marked
-- unchanged-toast when an UPDATE leaves them alone, sent whole in a FULL old
-- row, and a 100 MB value decodes exactly
SELECT 'init' FROM pg_create_logical_replication_slot('toast', 'walcast');

CREATE TABLE toast_t (id int PRIMARY KEY, other int, big text, rnd text);
CREATE TABLE toast_full (id int PRIMARY KEY, big text);
ALTER TABLE toast_full REPLICA IDENTITY FULL;
-- a primary key stored out of line: uncompressed, over the TOAST threshold
-- and under the btree limit
CREATE TABLE toast_key (k text PRIMARY KEY, other int);
ALTER TABLE toast_key ALTER COLUMN k SET STORAGE EXTERNAL;
-- the values, kept to check the decoded lengths and MD5s against
CREATE TABLE toast_values (name text PRIMARY KEY, v text);
INSERT INTO toast_values VALUES
	('compressible', repeat('x', 100000)),
	('incompressible', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 10000) i)),
	('updated', (SELECT string_agg(md5((-i)::text), '') FROM generate_series(1, 5000) i)),
	('key', (SELECT string_agg(md5((i * 7)::text), '') FROM generate_series(1, 78) i));
CREATE FUNCTION toast_v(name text) RETURNS text
	LANGUAGE sql STABLE AS 'SELECT v FROM toast_values WHERE name = $1';
CREATE FUNCTION toast_tag(name text) RETURNS text
	LANGUAGE sql STABLE AS $$SELECT format('text (%s bytes, md5 %s)',
	octet_length(v), md5(v)) FROM toast_values WHERE name = $1$$;

SELECT 'init' FROM pg_logical_slot_get_binary_changes('toast', NULL, NULL);

INSERT INTO toast_t VALUES (1, 1, toast_v('compressible'), toast_v('incompressible'));
-- big is compressed in line (so always sent whole), rnd is stored out of line
SELECT pg_column_size(big) < 100000 AS big_compressed,
	   pg_column_size(rnd) >= 320000 AS rnd_not_compressed
  FROM toast_t;
-- another column changes: the out-of-line values are unchanged-toast
UPDATE toast_t SET other = 2 WHERE id = 1;
-- the out-of-line column changes: its new value is sent whole
UPDATE toast_t SET rnd = toast_v('updated') WHERE id = 1;
INSERT INTO toast_full VALUES (1, toast_v('incompressible'));
UPDATE toast_full SET big = 'small' WHERE id = 1;
INSERT INTO toast_full VALUES (2, toast_v('compressible'));
DELETE FROM toast_full WHERE id = 2;
INSERT INTO toast_key VALUES (toast_v('key'), 1);
SELECT pg_column_size(k) AS key_stored_size FROM toast_key;
-- the key is unchanged: it is not logged again, so it is unchanged-toast in
-- the new row
UPDATE toast_key SET other = 2;
-- a key change: the old key is logged whole, and so is the new one
UPDATE toast_key SET k = upper(k);
SELECT octet_length(k) AS bytes, md5(k) FROM toast_key;
DELETE FROM toast_key;

CREATE TEMP TABLE toast_out AS
SELECT n, walcast.decode(data) AS line
  FROM pg_logical_slot_get_binary_changes('toast', NULL, NULL)
  WITH ORDINALITY AS c(lsn, xid, data, n);
SELECT line FROM toast_out ORDER BY n;
-- the values in the stream are exactly the stored ones
SELECT name, toast_tag(name) FROM toast_values ORDER BY name;
SELECT count(*) AS lines_with_exact_values FROM toast_out
 WHERE line LIKE '%' || toast_tag('compressible') || '%'
	OR line LIKE '%' || toast_tag('incompressible') || '%'
	OR line LIKE '%' || toast_tag('updated') || '%'
	OR line LIKE '%' || toast_tag('key') || '%';

-- one 100 MB value: 1 MB of MD5s repeated 100 times (pglz finds no repeats
-- that far apart, so it is stored as 100 MB)
CREATE TABLE toast_huge (id int PRIMARY KEY, v text);
INSERT INTO toast_huge
SELECT 1, repeat(string_agg(md5(i::text), ''), 100) FROM generate_series(1, 32768) i;
SELECT octet_length(v) AS bytes, pg_column_size(v) AS stored, md5(v) FROM toast_huge;
SELECT line = format('#1 INSERT public.toast_huge new: id=int 1 v=text (%s bytes, md5 %s)',
		(SELECT octet_length(v) FROM toast_huge), (SELECT md5(v) FROM toast_huge)) AS exact
  FROM (SELECT walcast.decode(data) AS line
		  FROM pg_logical_slot_get_binary_changes('toast', NULL, NULL)) d
 WHERE line LIKE '#%';

SELECT pg_drop_replication_slot('toast');
DROP TABLE toast_t, toast_full, toast_key, toast_values, toast_huge;
DROP FUNCTION toast_v(text);
DROP FUNCTION toast_tag(text);
