#!/usr/bin/env bash
#
# regress/check.sh: "walcast check" against a server built wrong in each way
#
# One throwaway cluster (scripts/lib.sh), reconfigured and restarted between
# cases.  For each case the server is broken on purpose, walcast check must
# report the right check as failed (or warned) with the right fix; then the
# test applies the fix that walcast check printed (the SQL from its --json
# report, or --fix itself, or the configuration change and the restart it
# asked for) and the same check must pass.  The cases:
#
#   wal_level = replica; walcast missing from output_plugin_libraries (both
#     fixed by --fix, then the restart it asks for)
#   a role without REPLICATION
#   tables without a primary key
#   a table and a schema whose SELECT / USAGE was revoked, in a second
#     database (--all-databases)
#   a publication created after the slot (pgoutput mode)
#   an inactive slot retaining WAL
#   an invalidated slot (max_slot_wal_keep_size = 1MB, WAL switched and a
#     checkpoint)
#   a simulated RDS instance (rds.logical_replication in postgresql.conf,
#     roles rds_replication and rds_superuser)
#   a standby (pg_basebackup), which PostgreSQL 15 cannot decode on
#   and at the end a correctly configured server, which passes everything.
#
# walcast check connects over TCP on 127.0.0.1 as a role that is not a
# superuser ("cdc"), as a relay would, or as the superuser where the case
# needs one.  Exit codes are checked too: 5 on failures, 4 on warnings only,
# 0 when everything passes.  Every JSON report is parsed (python3), so a
# malformed one fails the test.  KEEP=1 keeps the scratch directory.
#
set -euo pipefail

prog=regress/check.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"

command -v python3 >/dev/null || wc_die "python3 is needed to read the JSON reports"

wc_build || wc_die "could not build walcast"
walcast=$repo/consumer/walcast
[ -x "$walcast" ] || wc_die "\"$walcast\" was not built"
wc_ensure_user
wc_make_scratch
trap wc_cleanup EXIT
trap 'exit 130' INT TERM
wc_make_install

# broken from the start: replica, and walcast not allowed as a plugin
cat >"$wc_scratch/check.conf" <<'EOF'
wal_level = replica
output_plugin_libraries = 'pgoutput'
max_replication_slots = 10
max_wal_senders = 10
max_slot_wal_keep_size = '1GB'
autovacuum_naptime = 1d
EOF
wc_cluster_init "$wc_scratch/check.conf"
wc_cluster_start

cdc_password=$(head -c 12 /dev/urandom | base64 | tr -d '+/=')
printf '127.0.0.1:%s:*:cdc:%s\n' "$wc_port" "$cdc_password" >>"$PGPASSFILE"

failures=0
report=$wc_scratch/report.json
text=$wc_scratch/report.txt

ok()
{
	echo "ok - $*"
}

not_ok()
{
	echo "FAILED - $*"
	failures=$((failures + 1))
}

# sql [DB] STATEMENTS: run as the superuser
sql()
{
	local db=postgres

	if [ $# -gt 1 ]; then
		db=$1
		shift
	fi
	wc_psql -q -d "$db" -c "$1" >/dev/null
}

restart()
{
	wc_cluster_stop
	wc_cluster_start
	# the port may have moved
	sed -i "s/^127\.0\.0\.1:[0-9]*:\*:cdc:/127.0.0.1:$wc_port:*:cdc:/" "$PGPASSFILE"
}

# run USER DB [OPTION]...: walcast check --json, then the same in text;
# sets $rc.  With --fix, the text run comes first and applies the fixes,
# and the JSON report, without --fix, is the state after them.
run()
{
	local user=$1 db=$2 conninfo arg
	local no_fix=()
	shift 2
	conninfo="host=127.0.0.1 port=${check_port:-$wc_port} user=$user dbname=$db"
	for arg in "$@"; do
		[ "$arg" = --fix ] || no_fix+=("$arg")
	done

	set +e
	if [[ " $* " == *" --fix "* ]]; then
		"$walcast" check -d "$conninfo" "$@" >"$text" 2>"$wc_scratch/stderr"
		rc=$?
		"$walcast" check -d "$conninfo" --json "${no_fix[@]}" >"$report" \
			2>>"$wc_scratch/stderr"
	else
		"$walcast" check -d "$conninfo" --json "$@" >"$report" \
			2>"$wc_scratch/stderr"
		rc=$?
		"$walcast" check -d "$conninfo" "$@" >"$text" 2>>"$wc_scratch/stderr"
	fi
	set -e
	if ! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$report" 2>/dev/null; then
		not_ok "the JSON report of \"walcast check $*\" does not parse"
		head -c 2000 "$report"
		echo
	fi
}

# query WHAT CHECK [DATABASE]: from the JSON report, for the results of
# CHECK (in DATABASE): status, observed, fix (lines), sql (DB<tab>SQL)
query()
{
	python3 - "$report" "$@" <<'EOF_PY'
import json, sys
report = json.load(open(sys.argv[1]))
what, name = sys.argv[2], sys.argv[3]
db = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
for c in report["checks"]:
    if c["name"] != name or (db is not None and c["database"] != db):
        continue
    if what == "status":
        print(c["status"])
    elif what == "observed":
        print(c["observed"])
    elif what == "fix":
        print("\n".join(c["fix"]))
    elif what == "sql":
        for s in c["fix_sql"]:
            print(s["database"] + "\t" + s["sql"])
EOF_PY
}

# expect CHECK STATUS [DATABASE]: the check's status in the last report
expect()
{
	local got

	got=$(query status "$1" "${3:-}" | sort -u | tr '\n' ' ')
	got=${got% }
	if [ "$got" = "$2" ]; then
		ok "$1${3:+ in database \"$3\"}: $2 ($(query observed "$1" "${3:-}" | head -n 1 | cut -c1-110))"
	else
		not_ok "$1${3:+ in database \"$3\"}: expected $2, got \"$got\""
		grep -E "^[a-z]+ +$1 " -A 8 "$text" | head -n 12 || true
	fi
}

# expect_fix CHECK TEXT [DATABASE]: the fix of CHECK contains TEXT
expect_fix()
{
	if query fix "$1" "${3:-}" | grep -F -- "$2" >/dev/null; then
		ok "$1: the fix says \"$2\""
	else
		not_ok "$1: the fix does not say \"$2\""
		query fix "$1" "${3:-}" | sed 's/^/    /'
	fi
}

# expect_observed CHECK TEXT: the observed value of CHECK contains TEXT
expect_observed()
{
	if query observed "$1" | grep -F -- "$2" >/dev/null; then
		ok "$1: observed \"$2\""
	else
		not_ok "$1: observed value does not contain \"$2\": $(query observed "$1")"
	fi
}

expect_rc()
{
	if [ "$rc" -eq "$1" ]; then
		ok "exit status $1"
	else
		not_ok "exit status: expected $1, got $rc"
		cat "$wc_scratch/stderr"
	fi
}

# apply CHECK [DATABASE]: run, as the superuser, the SQL walcast printed
apply()
{
	local db stmt

	while IFS=$'\t' read -r db stmt; do
		echo "   applying in database \"$db\": $stmt"
		wc_psql -q -d "$db" -c "$stmt" >/dev/null ||
			not_ok "$1: the printed fix failed: $stmt"
	done < <(query sql "$1" "${2:-}")
}

echo "== setup: role cdc without REPLICATION, database app"
sql "CREATE ROLE cdc LOGIN PASSWORD '$cdc_password'"
sql "CREATE DATABASE app"
sql "CREATE DATABASE app2"
sql app "CREATE TABLE items (id int PRIMARY KEY, body text);
	GRANT SELECT ON ALL TABLES IN SCHEMA public TO cdc;
	ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO cdc"

echo "== wal_level = replica, walcast missing from output_plugin_libraries, no REPLICATION"
run cdc app
expect_rc 5
expect wal_level fail
expect_fix wal_level "ALTER SYSTEM SET wal_level = logical;"
expect_fix wal_level "restart the server"
expect replication_role fail
expect_fix replication_role "ALTER ROLE cdc REPLICATION;"
expect replication_connection fail
expect plugin skip
run postgres app
expect output_plugin_libraries fail
expect_fix output_plugin_libraries "ALTER SYSTEM SET output_plugin_libraries = 'walcast', 'pgoutput';"

echo "== --fix as the superuser, then the restart it asks for"
expect schema_log warn
expect_fix schema_log "CREATE EXTENSION walcast;"
run postgres app --fix
for applied in \
	'fix: applied in database "app": ALTER SYSTEM SET wal_level = logical; (takes effect after a restart)' \
	"fix: applied in database \"app\": ALTER SYSTEM SET output_plugin_libraries = 'walcast', 'pgoutput';" \
	'fix: applied in database "app": CREATE EXTENSION walcast;'; do
	if grep -qxF -- "$applied" "$text"; then
		ok "--fix says: $applied"
	else
		not_ok "--fix does not say: $applied"
		head -n 12 "$text"
	fi
done
expect wal_level fail
expect_observed wal_level "waits for a restart"
expect pending_restart warn
expect output_plugin_libraries pass
expect schema_log pass
restart
run postgres app
expect wal_level pass
expect pending_restart pass
expect output_plugin_libraries pass

echo "== the printed fix for REPLICATION"
run cdc app
apply replication_role
run cdc app
expect replication_role pass
expect replication_connection pass
expect plugin pass
expect output_plugin_libraries pass

echo "== tables without a primary key"
# a name with quotes, a backslash and a tab tests the quoting of the SQL
# and the escaping of the JSON report
sql app "CREATE TABLE nokey (a int, b text);
	CREATE TABLE altkey (a int NOT NULL UNIQUE, b text);
	CREATE TABLE \"odd \"\"name\"\" \\	x\" (a int)"
run cdc app
expect_rc 5
expect replica_identity fail
expect_fix replica_identity "ALTER TABLE public.nokey REPLICA IDENTITY FULL;"
expect_fix replica_identity "ALTER TABLE public.\"odd \"\"name\"\" \\	x\" REPLICA IDENTITY FULL;"
expect_fix replica_identity "ALTER TABLE public.altkey REPLICA IDENTITY USING INDEX altkey_a_key;"
apply replica_identity
run cdc app
expect replica_identity pass

echo "== SELECT revoked, in a second database"
sql app2 "CREATE ROLE alice;
	CREATE TABLE open_table (id int PRIMARY KEY);
	CREATE TABLE secret (id int PRIMARY KEY);
	ALTER TABLE secret OWNER TO alice;
	CREATE SCHEMA hidden AUTHORIZATION alice;
	CREATE TABLE hidden.t (id int PRIMARY KEY);
	ALTER TABLE hidden.t OWNER TO alice;
	GRANT SELECT ON open_table, secret TO cdc;
	REVOKE SELECT ON secret FROM cdc"
run cdc app
expect select_privilege pass
run cdc app --all-databases
expect select_privilege pass app
expect select_privilege fail app2
expect_observed select_privilege "hidden.t, public.secret"
expect_fix select_privilege 'as role "alice" (the owner) in database "app2":' app2
expect_fix select_privilege "GRANT SELECT ON public.secret TO cdc;" app2
expect_fix select_privilege "GRANT USAGE ON SCHEMA hidden TO cdc;" app2
expect_fix select_privilege "ALTER DEFAULT PRIVILEGES FOR ROLE alice IN SCHEMA hidden GRANT SELECT ON TABLES TO cdc;" app2
apply select_privilege app2
run cdc app --all-databases
expect select_privilege pass app2

echo "== a publication created after the slot (pgoutput)"
sql app "SELECT pg_create_logical_replication_slot('late_slot', 'pgoutput')"
sql app "INSERT INTO items VALUES (1, 'before the publication')"
sql app "CREATE PUBLICATION late_pub FOR ALL TABLES"
sql app "INSERT INTO items VALUES (2, 'after the publication')"
run cdc app --plugin pgoutput --slot late_slot --publication late_pub
expect publication pass
expect publication_before_slot fail
expect_fix publication_before_slot "SELECT pg_drop_replication_slot('late_slot');"
expect_fix publication_before_slot "SELECT pg_create_logical_replication_slot('late_slot', 'pgoutput');"
apply publication_before_slot
run cdc app --plugin pgoutput --slot late_slot --publication late_pub
expect publication_before_slot pass
expect slot pass
sql app "SELECT pg_drop_replication_slot('late_slot')"

echo "== an inactive slot retaining WAL"
sql app "SELECT pg_create_logical_replication_slot('forgotten', 'walcast')"
for _ in 1 2; do
	sql app "INSERT INTO items SELECT g, 'x' FROM generate_series(100, 1100) g ON CONFLICT DO NOTHING; SELECT pg_switch_wal()"
done
run cdc app
expect_rc 4
expect other_slots warn
expect_observed other_slots '"forgotten" (walcast, database "app"'
expect_fix other_slots "SELECT pg_drop_replication_slot('forgotten');"
apply other_slots
run cdc app
expect other_slots pass

echo "== an invalidated slot (max_slot_wal_keep_size = 1MB)"
sql "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'"
sql "SELECT pg_reload_conf()"
sql app "SELECT pg_create_logical_replication_slot('doomed', 'walcast')"
for _ in 1 2 3; do
	sql app "INSERT INTO items SELECT g, 'y' FROM generate_series(2000, 3000) g ON CONFLICT DO NOTHING; SELECT pg_switch_wal()"
done
sql "CHECKPOINT"
run cdc app --slot doomed
expect slot fail
expect_observed slot "invalidated (wal_status lost)"
expect_fix slot "SELECT pg_drop_replication_slot('doomed');"
expect_fix slot "SELECT pg_create_logical_replication_slot('doomed', 'walcast');"
expect max_slot_wal_keep_size warn
expect_fix max_slot_wal_keep_size "ALTER SYSTEM SET max_slot_wal_keep_size = '50GB';"
apply max_slot_wal_keep_size
apply slot
run cdc app --slot doomed
expect slot pass
expect slot_retention pass
expect max_slot_wal_keep_size pass
sql app "SELECT pg_drop_replication_slot('doomed')"

echo "== a simulated RDS instance"
# wal_level = replica: the server refuses to start while logical slots exist
sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
sql "CREATE ROLE rds_replication; CREATE ROLE rds_superuser"
sql "CREATE ROLE rdsuser LOGIN PASSWORD '$cdc_password'"
sql "CREATE DATABASE rdsdb"
printf '127.0.0.1:%s:*:rdsuser:%s\n' "$wc_port" "$cdc_password" >>"$PGPASSFILE"
cp "$wc_pgdata/postgresql.conf" "$wc_scratch/postgresql.conf.orig"
{
	echo "rds.logical_replication = off"
	echo "wal_level = replica"
} >>"$wc_pgdata/postgresql.conf"
sql "ALTER SYSTEM RESET wal_level"
restart
run rdsuser rdsdb
expect platform pass
expect_observed platform "RDS"
expect wal_level fail
expect_fix wal_level "set rds.logical_replication = 1"
expect_fix wal_level "reboot the instance"
if [ -n "$(query sql wal_level)" ]; then
	not_ok "wal_level: an SQL fix was offered on RDS"
else
	ok "wal_level: no SQL fix on RDS"
fi
expect replication_role fail
expect_fix replication_role "GRANT rds_replication TO rdsuser;"
expect ddl_privilege warn
expect_fix ddl_privilege "GRANT rds_superuser TO rdsuser;"
expect schema_log warn
expect_fix schema_log 'as the master user in database "rdsdb"'
# the parameter group change, which waits for the reboot
sed -i 's/^rds.logical_replication = off$/rds.logical_replication = on/' "$wc_pgdata/postgresql.conf"
sql "SELECT pg_reload_conf()"
apply replication_role
apply ddl_privilege
run rdsuser rdsdb
expect wal_level fail
expect_observed wal_level "a new value waits for a restart, rds.logical_replication = on"
expect replication_role pass
expect ddl_privilege pass
# the reboot: as RDS does, rds.logical_replication = on means logical
echo "wal_level = logical" >>"$wc_pgdata/postgresql.conf"
restart
run rdsuser rdsdb
expect wal_level pass

echo "== a correctly configured server"
cp "$wc_scratch/postgresql.conf.orig" "$wc_pgdata/postgresql.conf"
sql "ALTER SYSTEM SET wal_level = logical"
restart
sql app "CREATE PUBLICATION good_pub FOR ALL TABLES"
sql app "SELECT pg_create_logical_replication_slot('good_slot', 'walcast')"
run cdc app --slot good_slot --publication good_pub --all-databases
if python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
bad = [c for c in r["checks"] if c["status"] not in ("pass",)]
for c in bad:
    print("   %s %s: %s" % (c["status"], c["name"], c["observed"]))
sys.exit(1 if bad else 0)' "$report"; then
	ok "every check passes ($(grep '^summary:' "$text"))"
else
	not_ok "not every check passes on a correctly configured server"
fi
expect_rc 0
run cdc app --slot good_slot --publication good_pub --plugin pgoutput
expect slot fail
expect_fix slot "SELECT pg_create_logical_replication_slot('good_slot', 'pgoutput');"

echo "== a standby (PostgreSQL 15 cannot decode on one)"
standby=$wc_scratch/standby/data
check_port=$(wc_free_port $((wc_port + 1)))
mkdir -p "$wc_scratch/standby"
wc_give_scratch
wc_as_user "$wc_bindir/pg_basebackup" -D "$standby" -R -X stream -c fast \
	-h "$wc_sockdir" -p "$wc_port" -U postgres >"$wc_scratch/basebackup.log" 2>&1 || {
	cat "$wc_scratch/basebackup.log" >&2
	wc_die "pg_basebackup failed"
}
echo "port = $check_port" >>"$standby/postgresql.conf"
wc_pg_start "$standby" "$wc_scratch/standby.log" "$check_port" ||
	wc_die "could not start the standby"
check_port=$wc_started_port
printf '127.0.0.1:%s:*:cdc:%s\n' "$check_port" "$cdc_password" >>"$PGPASSFILE"
run cdc app
expect platform fail
expect_observed platform "standby: logical decoding on a standby needs PostgreSQL 16"
expect_fix platform "connect to the primary"
expect plugin fail
expect_rc 5
wc_as_user "$wc_bindir/pg_ctl" -D "$standby" -m fast -w stop >/dev/null 2>&1 ||
	not_ok "could not stop the standby"
unset check_port

echo "== usage"
set +e
"$walcast" check --no-such-option >/dev/null 2>&1
rc=$?
set -e
expect_rc 2
set +e
"$walcast" check -d "host=127.0.0.1 port=1 user=cdc dbname=app connect_timeout=2" >"$text" 2>&1
rc=$?
set -e
expect_rc 5
grep -q '^fail  connection ' "$text" && ok "an unreachable server fails the connection check" ||
	not_ok "an unreachable server: no failed connection check"

if [ "$failures" -gt 0 ]; then
	echo "$prog: $failures assertion(s) failed"
	exit 1
fi
echo "$prog: all assertions passed"
