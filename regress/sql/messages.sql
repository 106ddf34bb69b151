-- messages: logical messages, transactional or not, their bytes, the
-- prefix filter and the messages option
SELECT 'init' FROM pg_create_logical_replication_slot('messages', 'walcast');

CREATE TABLE messages_t (id int PRIMARY KEY);
-- walcast.decode() shows message content as quoted text, which cannot hold
-- a NUL byte: the binary message is checked on the raw bytes instead (the
-- Message.content field: tag 0x1a, length 4, the four bytes)
CREATE FUNCTION messages_decode(VARIADIC options text[] DEFAULT '{}')
RETURNS SETOF text LANGUAGE sql AS $$
	SELECT CASE WHEN position('\x1a0400ff0a27'::bytea IN data) > 0
				THEN 'binary message: content \x00ff0a27 found on the wire'
				ELSE walcast.decode(data) END
	  FROM pg_logical_slot_peek_binary_changes('messages', NULL, NULL, VARIADIC options)
$$;

BEGIN;
SELECT 'm' FROM pg_logical_emit_message(true, 'app', 'in a transaction');
INSERT INTO messages_t VALUES (1);
SELECT 'm' FROM pg_logical_emit_message(false, 'app', 'not transactional, it''s sent at once');
COMMIT;
SELECT 'm' FROM pg_logical_emit_message(true, 'other', '\x00ff0a27'::bytea);
SELECT 'm' FROM pg_logical_emit_message(true, '', ''::bytea);
SELECT 'm' FROM pg_logical_emit_message(true, 'big', repeat('z', 1000));
-- in a transaction that rolls back: the transactional message is gone, the
-- other one stays
BEGIN;
SELECT 'm' FROM pg_logical_emit_message(true, 'app', 'rolled back');
SELECT 'm' FROM pg_logical_emit_message(false, 'app', 'survives the rollback');
INSERT INTO messages_t VALUES (2);
ROLLBACK;
-- a committed write, so that WAL is flushed past the non-transactional one
INSERT INTO messages_t VALUES (3);

SELECT messages_decode();
SELECT md5(repeat('z', 1000)) AS md5_of_big;
-- only some prefixes (exact match, so "ap" and "app2" do not match "app")
SELECT messages_decode('message-prefixes', 'app, ap,app2');
SELECT messages_decode('message-prefixes', 'other');
-- messages off: none, whatever message-prefixes says
SELECT messages_decode('messages', 'off', 'message-prefixes', 'app');
SELECT count(*) > 0 AS consumed FROM pg_logical_slot_get_binary_changes('messages', NULL, NULL);

SELECT pg_drop_replication_slot('messages');
DROP FUNCTION messages_decode(text[]);
DROP TABLE messages_t;
