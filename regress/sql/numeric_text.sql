-- numeric_text: numeric values reach the wire as the same text as
-- numeric_out gives (walcast writes it from the stored digits itself)
SELECT 'init' FROM pg_create_logical_replication_slot('numeric_text', 'walcast');

CREATE TABLE numeric_text (id int PRIMARY KEY, n numeric);
-- every display scale from 0 to 20, weights from -6 to 8, both signs
INSERT INTO numeric_text
SELECT g,
       round(((g % 2) * 2 - 1) * (g * 7919 % 1000003)::numeric
             * power(10::numeric, g % 15 - 6), g % 21)
  FROM generate_series(1, 2000) g;
INSERT INTO numeric_text VALUES
	(3001, 0), (3002, 0.0), (3003, -0.00001), (3004, 1e-20), (3005, 9999),
	(3006, 10000), (3007, 10000.0001), (3008, 'NaN'), (3009, 'Infinity'),
	(3010, '-Infinity'), (3011, 123456789012345678901234567890.1234567890123);

SELECT count(*) AS values_checked,
       count(*) FILTER (WHERE right(d.line, length('n=numeric ' || t.n::text))
                              = 'n=numeric ' || t.n::text) AS same_as_numeric_out
  FROM numeric_text t
  JOIN (SELECT walcast.decode(data) AS line
          FROM pg_logical_slot_get_binary_changes('numeric_text', NULL, NULL)) d
    ON d.line LIKE '%INSERT public.numeric_text % id=int ' || t.id || ' %';

SELECT pg_drop_replication_slot('numeric_text');
DROP TABLE numeric_text;
