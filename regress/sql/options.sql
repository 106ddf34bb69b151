-- options: every bad plugin option is an ERROR before anything is decoded,
-- valid options are accepted, and the slot cannot be read as text
SELECT 'init' FROM pg_create_logical_replication_slot('options', 'walcast');

CREATE TABLE options_t (id int PRIMARY KEY);
INSERT INTO options_t VALUES (1);

-- unrecognized option name
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'include-xid', 'on');
-- the same option twice
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'messages', 'on', 'messages', 'off');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'include-tables', 'public.a', 'include-tables', 'public.b');
-- bad boolean values
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'streaming', 'maybe');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'skip-empty-xacts', '');
-- bad origin value
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'origin', 'local');
-- a missing value: the SQL interface rejects a NULL option value itself,
-- before the plugin sees it; a bare option name reaches the plugin only
-- through START_REPLICATION, on a replication connection
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'include-tables', NULL);

\c "dbname=contrib_regression replication=database"
START_REPLICATION SLOT options LOGICAL 0/0 ("include-tables");
START_REPLICATION SLOT options LOGICAL 0/0 ("message-prefixes");
START_REPLICATION SLOT options LOGICAL 0/0 (origin);
START_REPLICATION SLOT options LOGICAL 0/0 ("format-version");
\c contrib_regression
-- invalid table patterns: no dot, an empty side, two dots
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'include-tables', 'users');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'exclude-tables', '.users');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'include-tables', 'public.');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'include-tables', 'public.*,users');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'include-tables', 'db.public.users');
-- empty list elements
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'include-tables', '');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'include-tables', 'public.a,,public.b');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'message-prefixes', 'a, ,b');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'message-prefixes', 'a,');
-- unsupported format versions
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'format-version', '2');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'format-version', '0');

-- nothing was consumed by the failed calls: the insert is still there
SELECT walcast.decode(data)
  FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL);

-- valid options are accepted: spaces around list elements, globs, every
-- spelling of a boolean, origin in any case
SELECT walcast.decode(data)
  FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'include-tables', ' public.* , app.orders ',
	'exclude-tables', '*.tmp_?',
	'messages', 'off',
	'message-prefixes', 'a,b',
	'streaming', 'false',
	'origin', 'NONE',
	'skip-empty-xacts', '1',
	'format-version', '1');
SELECT walcast.decode(data)
  FROM pg_logical_slot_peek_binary_changes('options', NULL, NULL,
	'origin', 'any', 'streaming', 'on', 'messages', 'yes');
-- the text interface refuses a binary plugin
SELECT count(*) FROM pg_logical_slot_get_changes('options', NULL, NULL);
SELECT count(*) FROM pg_logical_slot_peek_changes('options', NULL, NULL);

-- walcast.decode on bytes that are not an Envelope
SELECT walcast.decode('\xdeadbeef'::bytea);
SELECT walcast.decode('\xff'::bytea);
-- an empty message is a valid, empty Envelope
SELECT walcast.decode(''::bytea);

SELECT pg_drop_replication_slot('options');
DROP TABLE options_t;
