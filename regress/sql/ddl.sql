-- ddl: a table's Relation is sent again exactly when its definition
-- changed, and every row decodes against the definition it was written
-- under
SELECT 'init' FROM pg_create_logical_replication_slot('ddl', 'walcast');

CREATE TABLE ddl_t (id int PRIMARY KEY, a text);
CREATE TABLE ddl_other (id int PRIMARY KEY);
INSERT INTO ddl_t VALUES (1, 'one');
-- no change of definition: no new Relation
CREATE INDEX ddl_t_a ON ddl_t (a);
INSERT INTO ddl_t VALUES (2, 'two');
ALTER TABLE ddl_other ADD COLUMN x int;
INSERT INTO ddl_t VALUES (3, 'three');
ANALYZE ddl_t;
COMMENT ON TABLE ddl_t IS 'a comment';
INSERT INTO ddl_t VALUES (4, 'four');
-- ADD COLUMN without and with a default, across transactions
ALTER TABLE ddl_t ADD COLUMN b int;
INSERT INTO ddl_t VALUES (5, 'five', 5);
ALTER TABLE ddl_t ADD COLUMN c text DEFAULT 'dflt';
INSERT INTO ddl_t (id, a) VALUES (6, 'six');
UPDATE ddl_t SET b = 1 WHERE id = 1;
-- ADD COLUMN with rows before and after in one transaction
BEGIN;
INSERT INTO ddl_t (id, a) VALUES (7, 'seven');
ALTER TABLE ddl_t ADD COLUMN d int DEFAULT 42;
INSERT INTO ddl_t (id, a) VALUES (8, 'eight');
COMMIT;
-- DROP COLUMN across transactions and within one
ALTER TABLE ddl_t DROP COLUMN b;
INSERT INTO ddl_t (id, a) VALUES (9, 'nine');
BEGIN;
INSERT INTO ddl_t (id, a) VALUES (10, 'ten');
ALTER TABLE ddl_t DROP COLUMN c;
INSERT INTO ddl_t (id, a) VALUES (11, 'eleven');
DELETE FROM ddl_t WHERE id = 10;
COMMIT;
-- ALTER COLUMN TYPE (rewrites the table; the rewrite is not decoded)
ALTER TABLE ddl_t ALTER COLUMN d TYPE numeric(10,2);
INSERT INTO ddl_t (id, a, d) VALUES (12, 'twelve', 1.5);
-- RENAME COLUMN, then RENAME TABLE
ALTER TABLE ddl_t RENAME COLUMN a TO label;
INSERT INTO ddl_t (id, label) VALUES (13, 'thirteen');
ALTER TABLE ddl_t RENAME TO ddl_renamed;
INSERT INTO ddl_renamed (id, label) VALUES (14, 'fourteen');
-- change of replica identity
ALTER TABLE ddl_renamed REPLICA IDENTITY FULL;
UPDATE ddl_renamed SET label = 'uno' WHERE id = 1;
ALTER TABLE ddl_renamed REPLICA IDENTITY DEFAULT;
UPDATE ddl_renamed SET id = 101 WHERE id = 1;
-- DROP TABLE after its changes were written: they still decode
INSERT INTO ddl_other VALUES (1, 1);
DROP TABLE ddl_other;

SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('ddl', NULL, NULL);

-- a new session sends every Relation again, once
INSERT INTO ddl_renamed (id, label) VALUES (15, 'fifteen');
INSERT INTO ddl_renamed (id, label) VALUES (16, 'sixteen');
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('ddl', NULL, NULL);

-- an old row (REPLICA IDENTITY FULL) written before columns were added
-- without a rewrite: the column added with a default has its default, the
-- one added without has NULL, as the table reads them; and one written
-- before a column was dropped
CREATE TABLE ddl_full (id int, gone text, a text) WITH (autovacuum_enabled = off);
ALTER TABLE ddl_full REPLICA IDENTITY FULL;
INSERT INTO ddl_full VALUES (1, 'x', 'one'), (2, 'y', 'two');
ALTER TABLE ddl_full DROP COLUMN gone;
ALTER TABLE ddl_full ADD COLUMN plain int;
ALTER TABLE ddl_full ADD COLUMN dflt text DEFAULT 'missing';
UPDATE ddl_full SET a = 'uno' WHERE id = 1;
DELETE FROM ddl_full WHERE id = 2;
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('ddl', NULL, NULL);

SELECT pg_drop_replication_slot('ddl');
DROP TABLE ddl_renamed;
DROP TABLE ddl_full;
