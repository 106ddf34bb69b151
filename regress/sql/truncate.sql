-- truncate: one Truncate per statement with every table it emptied, the
-- CASCADE and RESTART IDENTITY flags, and table filters applied to it
SELECT 'init' FROM pg_create_logical_replication_slot('truncate', 'walcast');

CREATE TABLE truncate_a (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
CREATE TABLE truncate_b (id int PRIMARY KEY);
CREATE TABLE truncate_child (id int PRIMARY KEY,
	a_id int REFERENCES truncate_a (id));
CREATE TABLE truncate_hidden (id int PRIMARY KEY);

INSERT INTO truncate_a DEFAULT VALUES;
INSERT INTO truncate_child VALUES (1, 1);
SELECT 'init' FROM pg_logical_slot_get_binary_changes('truncate', NULL, NULL);

TRUNCATE truncate_b;
TRUNCATE truncate_b, truncate_hidden;
TRUNCATE truncate_a CASCADE;
TRUNCATE truncate_a, truncate_b RESTART IDENTITY CASCADE;
TRUNCATE truncate_hidden, truncate_b RESTART IDENTITY;
TRUNCATE truncate_hidden;
-- an empty table is truncated all the same
BEGIN;
TRUNCATE truncate_b;
INSERT INTO truncate_b VALUES (1);
COMMIT;

SELECT walcast.decode(data)
  FROM pg_logical_slot_peek_binary_changes('truncate', NULL, NULL);
-- truncate_hidden filtered out: it is left out of the list; a statement
-- only on it sends nothing
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('truncate', NULL, NULL,
	'include-tables', 'public.truncate_a,public.truncate_b,public.truncate_child');

SELECT pg_drop_replication_slot('truncate');
DROP TABLE truncate_child, truncate_a, truncate_b, truncate_hidden;
