-- partition: changes to partitioned tables
--
-- PostgreSQL decodes changes on the partition (the leaf) that holds the
-- row; walcast sends them as changes of that partition, whose RELATION says
-- which table it is a partition of.
SELECT 'init' FROM pg_create_logical_replication_slot('partition', 'walcast');

CREATE TABLE part_p (id int, region text, v text, PRIMARY KEY (id, region))
    PARTITION BY LIST (region);
CREATE TABLE part_eu PARTITION OF part_p FOR VALUES IN ('eu');
CREATE TABLE part_us PARTITION OF part_p FOR VALUES IN ('us');

-- inserts go to the partitions
INSERT INTO part_p VALUES (1, 'eu', 'a'), (2, 'us', 'b'), (3, 'eu', 'c');
-- an update inside one partition, and one moving a row to the other
-- partition, which PostgreSQL does as a delete and an insert
BEGIN;
UPDATE part_p SET v = 'a2' WHERE id = 1;
UPDATE part_p SET region = 'us' WHERE id = 3;
COMMIT;
DELETE FROM part_p WHERE id = 2;
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('partition', NULL, NULL);
SELECT tableoid::regclass, * FROM part_p ORDER BY id;

-- ATTACH PARTITION: rows of a table attached later come with a new
-- RELATION saying it is now a partition; DETACH undoes that
CREATE TABLE part_asia (id int NOT NULL, region text NOT NULL, v text,
                        PRIMARY KEY (id, region));
INSERT INTO part_asia VALUES (10, 'asia', 'before attach');
ALTER TABLE part_p ATTACH PARTITION part_asia FOR VALUES IN ('asia');
INSERT INTO part_p VALUES (11, 'asia', 'attached');
ALTER TABLE part_p DETACH PARTITION part_asia;
INSERT INTO part_asia VALUES (12, 'asia', 'detached');
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('partition', NULL, NULL);

-- TRUNCATE of the parent lists the parent (a table of its own, sent with
-- its RELATION) and its partitions
TRUNCATE part_p;
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('partition', NULL, NULL);

-- Table patterns match the name of the partition a change is decoded on,
-- not its parent: include-tables 'public.part_p' matches no change at all,
-- 'public.part_*' matches every partition, and exclude-tables works the same
-- way.
INSERT INTO part_p VALUES (20, 'eu', 'x'), (21, 'us', 'y');
SELECT walcast.decode(data)
  FROM pg_logical_slot_peek_binary_changes('partition', NULL, NULL,
                                           'include-tables', 'public.part_p');
SELECT walcast.decode(data)
  FROM pg_logical_slot_peek_binary_changes('partition', NULL, NULL,
                                           'include-tables', 'public.part_*');
SELECT walcast.decode(data)
  FROM pg_logical_slot_peek_binary_changes('partition', NULL, NULL,
                                           'include-tables', 'public.part_p,public.part_eu');
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('partition', NULL, NULL,
                                          'exclude-tables', 'public.part_p');

SELECT pg_drop_replication_slot('partition');
DROP TABLE part_p, part_asia;
