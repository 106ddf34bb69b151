-- smoke: the plugin loads, decodes one transaction of each kind of row
-- change, and walcast.decode() renders the messages
SELECT 'init' FROM pg_create_logical_replication_slot('smoke', 'walcast');

CREATE TABLE smoke (id int PRIMARY KEY, label text);
INSERT INTO smoke VALUES (1, 'one'), (2, 'two');
UPDATE smoke SET label = 'uno' WHERE id = 1;
DELETE FROM smoke WHERE id = 2;

SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('smoke', NULL, NULL);

-- nothing is left once the slot has been read
SELECT count(*) FROM pg_logical_slot_get_binary_changes('smoke', NULL, NULL);

SELECT pg_drop_replication_slot('smoke');
DROP TABLE smoke;
