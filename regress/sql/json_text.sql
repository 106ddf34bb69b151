-- json_text: jsonb values reach the wire as the same text as jsonb_out
-- gives (walcast writes it itself, without calling jsonb_out)
SELECT 'init' FROM pg_create_logical_replication_slot('json_text', 'walcast');

CREATE TABLE json_text (id int PRIMARY KEY, jb jsonb);
INSERT INTO json_text VALUES
	(1, '{}'), (2, '[]'), (3, 'null'), (4, 'true'), (5, 'false'),
	(6, '0'), (7, '-0.000'), (8, '1e100'), (9, '123456789012345678901234567890.123456789'),
	(10, '"a raw string"'), (11, '""'),
	(12, '{"a": 1, "b": [1, 2, {"c": null}], "d": {"e": {"f": [[], {}]}}}'),
	(13, '[1, "two", 3.5, false, null, [true]]'),
	(14, '{"quote\"key": "back\\slash", "ctl": "\b\f\n\r\t\u0001\u001f", "slash": "/"}'),
	(15, '{"unicode": "snow ☃ and é and 𝄞", "escaped": "\u00e9\u2603"}'),
	(16, '{"b": 2, "a": 1, "aa": 3}'),
	(17, '[-1.5e-7, 0.1, 100, 1E+3, -0]'),
	(18, NULL);
-- a large document, stored out of line and compressed
INSERT INTO json_text
SELECT 19, jsonb_object_agg('key' || g, jsonb_build_array(g, 'v' || g, g * 1.5, g % 2 = 0))
  FROM generate_series(1, 3000) g;
-- an array long enough that its entries store offsets, not only lengths
INSERT INTO json_text
SELECT 20, jsonb_agg(CASE g % 4 WHEN 0 THEN to_jsonb(g) WHEN 1 THEN to_jsonb('s' || g)
                            WHEN 2 THEN jsonb_build_object('k', g) ELSE 'null' END)
  FROM generate_series(1, 100) g;
-- nested deeper than walcast walks the stored form itself (32 levels)
INSERT INTO json_text VALUES
	(21, (repeat('[{"a": ', 40) || '1.50' || repeat('}]', 40))::jsonb),
	(22, (repeat('{"k": [', 20) || '"x", {}' || repeat(']}', 20))::jsonb);

-- decode prints short values quoted and long ones as length and md5
SELECT t.id,
       strpos(d.line, 'jb=' || CASE
           WHEN t.jb IS NULL THEN 'null'
           WHEN octet_length(t.jb::text) > 200 THEN
               format('json (%s bytes, md5 %s)', octet_length(t.jb::text), md5(t.jb::text))
           ELSE 'json ''' || replace(t.jb::text, '''', '''''') || ''''
       END) > 0 AS same_as_jsonb_out
  FROM json_text t
  JOIN (SELECT walcast.decode(data) AS line
          FROM pg_logical_slot_get_binary_changes('json_text', NULL, NULL)) d
    ON d.line LIKE '%INSERT public.json_text % id=int ' || t.id || ' %'
 ORDER BY t.id;

SELECT pg_drop_replication_slot('json_text');
DROP TABLE json_text;
