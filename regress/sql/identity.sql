-- identity: the old row of UPDATE and DELETE under each replica identity,
-- with not-in-key columns told apart from NULL ones
SELECT 'init' FROM pg_create_logical_replication_slot('identity', 'walcast');

CREATE TABLE identity_pk (id int PRIMARY KEY, code int, note text);
CREATE TABLE identity_nopk (id int, note text);
CREATE TABLE identity_index (id int, code int NOT NULL, note text);
CREATE UNIQUE INDEX identity_index_code ON identity_index (code);
ALTER TABLE identity_index REPLICA IDENTITY USING INDEX identity_index_code;
CREATE TABLE identity_full (id int PRIMARY KEY, code int, note text);
ALTER TABLE identity_full REPLICA IDENTITY FULL;
CREATE TABLE identity_nothing (id int PRIMARY KEY, note text);
ALTER TABLE identity_nothing REPLICA IDENTITY NOTHING;

INSERT INTO identity_pk VALUES (1, 10, 'a'), (2, 20, NULL);
INSERT INTO identity_nopk VALUES (1, 'a'), (2, NULL);
INSERT INTO identity_index VALUES (1, 10, 'a'), (2, 20, NULL);
INSERT INTO identity_full VALUES (1, 10, 'a'), (2, NULL, NULL);
INSERT INTO identity_nothing VALUES (1, 'a'), (2, NULL);

-- DEFAULT with a primary key: a non-key update has no old row; a key update
-- and a delete carry the key, the other columns not-in-key
UPDATE identity_pk SET note = 'b' WHERE id = 1;
UPDATE identity_pk SET id = 3 WHERE id = 1;
DELETE FROM identity_pk WHERE id = 2;
-- DEFAULT without a primary key: nothing is logged for the old row
-- (an UPDATE or DELETE of such a table errors unless it is not published;
-- with no publication here, they go through)
UPDATE identity_nopk SET note = 'b' WHERE id = 1;
DELETE FROM identity_nopk WHERE id = 2;
-- USING INDEX: the index column is the key; NULL in a non-key column stays
-- not-in-key in the old row
UPDATE identity_index SET note = 'b' WHERE id = 1;
UPDATE identity_index SET code = 11 WHERE id = 1;
UPDATE identity_index SET id = 5 WHERE code = 20;
DELETE FROM identity_index WHERE code = 20;
-- FULL: every column of the old row, NULLs as null
UPDATE identity_full SET note = 'b' WHERE id = 1;
UPDATE identity_full SET id = 3 WHERE id = 1;
UPDATE identity_full SET code = 21 WHERE id = 2;
DELETE FROM identity_full WHERE id = 2;
-- NOTHING: no old row, even for a key change; a delete is still sent
UPDATE identity_nothing SET note = 'b' WHERE id = 1;
UPDATE identity_nothing SET id = 3 WHERE id = 1;
DELETE FROM identity_nothing WHERE id = 2;

SELECT walcast.decode(data)
  FROM pg_logical_slot_get_binary_changes('identity', NULL, NULL);

SELECT pg_drop_replication_slot('identity');
DROP TABLE identity_pk, identity_nopk, identity_index, identity_full,
	identity_nothing;
