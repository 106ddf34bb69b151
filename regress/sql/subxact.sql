-- subxact: rolled-back subtransactions send nothing, released ones do;
-- aborted and empty transactions send nothing unless skip-empty-xacts is off
SELECT 'init' FROM pg_create_logical_replication_slot('subxact', 'walcast');

CREATE TABLE subxact_t (id int PRIMARY KEY, note text);

-- a rolled-back and a released savepoint
BEGIN;
INSERT INTO subxact_t VALUES (1, 'top');
SAVEPOINT a;
INSERT INTO subxact_t VALUES (2, 'rolled back');
ROLLBACK TO SAVEPOINT a;
SAVEPOINT b;
INSERT INTO subxact_t VALUES (3, 'released');
RELEASE SAVEPOINT b;
COMMIT;
-- nested: the inner one released into a rolled-back outer one is gone; a
-- rolled-back inner one inside a released outer one is gone too
BEGIN;
SAVEPOINT outer1;
INSERT INTO subxact_t VALUES (4, 'outer1');
SAVEPOINT inner1;
INSERT INTO subxact_t VALUES (5, 'inner1');
RELEASE SAVEPOINT inner1;
ROLLBACK TO SAVEPOINT outer1;
SAVEPOINT outer2;
INSERT INTO subxact_t VALUES (6, 'outer2');
SAVEPOINT inner2;
UPDATE subxact_t SET note = 'inner2' WHERE id = 6;
ROLLBACK TO SAVEPOINT inner2;
SAVEPOINT inner3;
UPDATE subxact_t SET note = 'inner3' WHERE id = 6;
RELEASE SAVEPOINT inner3;
RELEASE SAVEPOINT outer2;
INSERT INTO subxact_t VALUES (7, 'top');
COMMIT;
-- a rolled-back subtransaction with DDL: later rows use the old definition
BEGIN;
INSERT INTO subxact_t VALUES (8, 'before');
SAVEPOINT s;
ALTER TABLE subxact_t ADD COLUMN extra int;
INSERT INTO subxact_t VALUES (9, 'with extra', 9);
ROLLBACK TO SAVEPOINT s;
INSERT INTO subxact_t VALUES (10, 'after');
COMMIT;
-- a transaction that rolls back entirely
BEGIN;
INSERT INTO subxact_t VALUES (11, 'aborted');
SAVEPOINT s;
INSERT INTO subxact_t VALUES (12, 'aborted too');
RELEASE SAVEPOINT s;
ROLLBACK;
-- a transaction whose only change was rolled back, and one that writes
-- nothing decodable
BEGIN;
SAVEPOINT s;
INSERT INTO subxact_t VALUES (13, 'rolled back');
ROLLBACK TO SAVEPOINT s;
COMMIT;
CREATE TABLE subxact_empty (id int);

SELECT walcast.decode(data)
  FROM pg_logical_slot_peek_binary_changes('subxact', NULL, NULL);
-- with skip-empty-xacts off, the committed transactions with nothing to
-- send appear as BEGIN and COMMIT 0 changes (CREATE TABLE subxact_t and
-- subxact_empty, and the one with only a rolled-back insert)
SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('subxact', NULL, NULL,
	'skip-empty-xacts', 'off');

SELECT pg_drop_replication_slot('subxact');
DROP TABLE subxact_t, subxact_empty;
