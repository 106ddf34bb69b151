# shellcheck shell=bash
# scripts/lib.sh: shell functions shared by regress/run, scripts/demo and
# the end-to-end tests.  Source it from bash; it defines functions and a few
# variables and runs nothing.
#
# How a test server is set up without touching the system:
#
#   initdb and postgres refuse to run as root, and CI runs as root.  So when
#   we are root every server-side command runs as a dedicated system user
#   ($WALCAST_TEST_USER, created on first use); otherwise we run as ourselves.
#   That user may not be able to read the repository (a clone under /root is
#   mode 0700), so everything the server or pg_regress reads is copied into a
#   scratch directory under /tmp owned by that user.
#
#   PostgreSQL 15 has no extension_control_path, and the extension's .control
#   and .sql files must sit in the server's share directory.  PostgreSQL finds
#   its share and lib directories relative to the real path of its executable
#   (as PostgreSQL's own "make check" tmp_install does).  So we copy the server
#   binaries, libraries and share directory into $scratch/install with the
#   same absolute layout and "make install DESTDIR=$scratch/install" into it;
#   the copied postgres then loads walcast.so and walcast.control from there.
#   The copies must be real files: a symlinked binary resolves back to /usr.
#
# Callers set $prog (for messages) and $repo (the repository root).

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
WALCAST_TEST_USER=${WALCAST_TEST_USER:-walcast_test}

# the server installation we copy from, as laid out by Debian
wc_pg_bindir=/usr/lib/postgresql/15/bin
wc_pg_libdir=/usr/lib/postgresql/15/lib
wc_pg_sharedir=/usr/share/postgresql/15

wc_error()
{
	echo "${prog:-walcast}: error: $*" >&2
}

wc_die()
{
	wc_error "$@"
	exit 1
}

wc_is_root()
{
	[ "$(id -u)" -eq 0 ]
}

# wc_ensure_user: create the unprivileged user the servers run as, when root
wc_ensure_user()
{
	wc_is_root || return 0
	getent passwd "$WALCAST_TEST_USER" >/dev/null && return 0
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$WALCAST_TEST_USER" ||
		wc_die "could not create user \"$WALCAST_TEST_USER\""
}

# wc_as_user CMD...: run CMD as the test user (when root) or as ourselves
wc_as_user()
{
	if wc_is_root; then
		runuser -u "$WALCAST_TEST_USER" -- "$@"
	else
		"$@"
	fi
}

# wc_make_scratch: create $wc_scratch, a private directory under /tmp
#
# The caller removes it (wc_cleanup); wc_give_scratch hands it to the test
# user once it is filled.
wc_make_scratch()
{
	wc_scratch=$(mktemp -d "${TMPDIR:-/tmp}/walcast.XXXXXX") ||
		wc_die "could not create a scratch directory"
	chmod 0755 "$wc_scratch"
}

# wc_give_scratch: make everything in the scratch directory the test user's
wc_give_scratch()
{
	if wc_is_root; then
		chown -R "$WALCAST_TEST_USER:" "$wc_scratch" ||
			wc_die "could not give \"$wc_scratch\" to user \"$WALCAST_TEST_USER\""
	fi
}

# wc_build: build everything with the top-level Makefile
wc_build()
{
	make -s -C "${repo:?}" all PG_CONFIG="$PG_CONFIG"
}

# wc_make_install: copy the server into $wc_scratch/install, install walcast
# into the copy, and set $wc_bindir and $wc_install
wc_make_install()
{
	local d

	wc_install=$wc_scratch/install
	for d in "$wc_pg_bindir" "$wc_pg_libdir" "$wc_pg_sharedir"; do
		[ -d "$d" ] || wc_die "PostgreSQL 15 is not installed: \"$d\" is missing"
		mkdir -p "$wc_install$(dirname "$d")"
		cp -a "$d" "$wc_install$d" ||
			wc_die "could not copy \"$d\" into \"$wc_install\""
	done
	make -s -C "${repo:?}/plugin" install DESTDIR="$wc_install" \
		PG_CONFIG="$PG_CONFIG" >/dev/null ||
		wc_die "could not install walcast into \"$wc_install\""
	wc_bindir=$wc_install$wc_pg_bindir
	if [ ! -x "$wc_bindir/postgres" ] || [ -L "$wc_bindir/postgres" ]; then
		wc_die "\"$wc_bindir/postgres\" is not a copied executable"
	fi
}

# wc_write_conf SRC DEST: copy a server config file, dropping the
# output_plugin_libraries line on servers that do not know that setting
# (before 15.19 an unrecognized setting in the config file is fatal)
wc_write_conf()
{
	local settings

	# not "| grep -q": under pipefail its early exit fails the pipeline
	settings=$("$wc_pg_bindir/postgres" --describe-config 2>/dev/null) || true
	if grep -q '^output_plugin_libraries' <<<"$settings"; then
		cp "$1" "$2"
	else
		grep -v '^[[:space:]]*output_plugin_libraries' "$1" >"$2"
	fi
}

# wc_free_port [FIRST]: print the first TCP port from FIRST (25432) up that
# nobody listens on at 127.0.0.1 and that has no socket file in /tmp
#
# The tests' servers and sockets listen below Linux's ephemeral range
# (32768 to 60999 by default): a port in it can be taken at any moment as
# the source port of some outgoing connection, which makes the next bind
# fail with "Address already in use" (CI saw it once, for a standby), or
# could let a client reconnecting to a stopped relay connect to itself.
wc_free_port()
{
	local port=${1:-25432}

	while [ "$port" -lt 65535 ]; do
		if [ ! -e "/tmp/.s.PGSQL.$port" ] &&
			! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
		port=$((port + 1))
	done
	wc_die "could not find a free port"
}

# the background processes a script started (relays, subscribers,
# workloads), killed when it exits
pids=()

wc_kill_pids()
{
	local pid

	for pid in "${pids[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
}

# wc_throwaway_cluster [CONF]: build walcast, install it into the scratch
# directory and start a throwaway cluster configured by CONF (default
# regress/logical.conf).  On exit (or INT, TERM) every process in pids is
# killed and the scratch directory removed with its servers.
wc_throwaway_cluster()
{
	wc_build || wc_die "could not build walcast"
	wc_ensure_user
	wc_make_scratch
	trap 'wc_kill_pids; wc_cleanup' EXIT
	trap 'exit 130' INT TERM
	wc_make_install
	wc_cluster_init "${1:-$repo/regress/logical.conf}"
	wc_cluster_start
}

# wc_cluster_init CONF: create a throwaway cluster in $wc_scratch/data
#
# CONF is appended to postgresql.conf.  The server listens on 127.0.0.1 and
# on a socket in $wc_scratch/sock, on port $wc_port.  Local connections are
# trusted (the socket directory is the test user's only); TCP connections
# need the password in $wc_scratch/pgpass, which $PGPASSFILE points at.
wc_cluster_init()
{
	local conf=$1

	wc_port=$(wc_free_port "${wc_port:-25432}")
	wc_pgdata=$wc_scratch/data
	wc_sockdir=$wc_scratch/sock
	mkdir -p "$wc_sockdir"
	chmod 0700 "$wc_sockdir"
	head -c 18 /dev/urandom | base64 | tr -d '+/=' >"$wc_scratch/pwfile"
	printf '127.0.0.1:%s:*:postgres:%s\n' "$wc_port" \
		"$(cat "$wc_scratch/pwfile")" >"$wc_scratch/pgpass"
	chmod 0600 "$wc_scratch/pwfile" "$wc_scratch/pgpass"
	wc_write_conf "$conf" "$wc_scratch/cluster.conf"
	wc_give_scratch

	wc_as_user "$wc_bindir/initdb" -D "$wc_pgdata" -U postgres \
		--auth-local=trust --auth-host=scram-sha-256 \
		--pwfile="$wc_scratch/pwfile" --encoding=UTF8 --no-locale \
		--no-sync >"$wc_scratch/initdb.log" 2>&1 || {
		cat "$wc_scratch/initdb.log" >&2
		wc_die "initdb failed"
	}
	{
		echo
		echo "# added by scripts/lib.sh"
		cat "$wc_scratch/cluster.conf"
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $wc_port"
		echo "unix_socket_directories = '$wc_sockdir'"
		echo "unix_socket_permissions = 0700"
		echo "fsync = off"
	} >>"$wc_pgdata/postgresql.conf"

	export PGHOST=$wc_sockdir PGPORT=$wc_port PGUSER=postgres \
		PGDATABASE=postgres PGPASSFILE=$wc_scratch/pgpass
	unset PGSERVICE PGOPTIONS
}

# wc_pg_start DATA LOG PORT: start the server in DATA, which is set to
# listen on PORT, logging to LOG.  Another process may take the port between
# wc_free_port and the start: then it moves to the next free port, twice at
# most.  Sets wc_started_port to the port it listens on; on failure prints
# the end of LOG and returns 1.
wc_pg_start()
{
	local data=$1 log=$2

	wc_started_port=$3
	for _ in 1 2 3; do
		if wc_as_user "$wc_bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 \
			start >/dev/null 2>&1; then
			return 0
		fi
		grep -q -e 'Address already in use' -e 'could not create lock file' \
			"$log" 2>/dev/null || break
		wc_started_port=$(wc_free_port $((wc_started_port + 1)))
		echo "port = $wc_started_port" >>"$data/postgresql.conf"
	done
	tail -n 50 "$log" >&2
	return 1
}

# wc_cluster_start / wc_cluster_stop: start and stop the throwaway cluster
# (on another port if its own was taken; PGPORT and pgpass follow)
wc_cluster_start()
{
	wc_pg_start "$wc_pgdata" "$wc_scratch/server.log" "$wc_port" ||
		wc_die "could not start the server"
	if [ "$wc_started_port" != "$wc_port" ]; then
		wc_port=$wc_started_port
		sed -i "s/^127\.0\.0\.1:[0-9]*:/127.0.0.1:$wc_port:/" "$wc_scratch/pgpass"
		export PGPORT=$wc_port
	fi
}

wc_cluster_stop()
{
	[ -n "${wc_pgdata:-}" ] && [ -f "$wc_pgdata/postmaster.pid" ] || return 0
	wc_as_user "$wc_bindir/pg_ctl" -D "$wc_pgdata" -m fast -w -t 60 stop \
		>/dev/null 2>&1 ||
		wc_as_user "$wc_bindir/pg_ctl" -D "$wc_pgdata" -m immediate -w stop \
			>/dev/null 2>&1 || true
}

# wc_psql ARGS...: psql against the throwaway cluster, stopping on errors
wc_psql()
{
	"$wc_bindir/psql" -X -v ON_ERROR_STOP=1 "$@"
}

# wc_cleanup: stop whatever server is left in the scratch directory and
# remove it, unless KEEP=1
wc_cleanup()
{
	local pid_file

	[ -n "${wc_scratch:-}" ] && [ -d "$wc_scratch" ] || return 0
	[ -n "${wc_bindir:-}" ] && wc_cluster_stop
	# servers started by pg_regress that were left behind (timeout, kill)
	for pid_file in "$wc_scratch"/*/data/postmaster.pid; do
		if [ ! -f "$pid_file" ] || [ -z "${wc_bindir:-}" ]; then
			continue
		fi
		wc_as_user "$wc_bindir/pg_ctl" -D "$(dirname "$pid_file")" \
			-m immediate -w stop >/dev/null 2>&1 || true
	done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "${prog:-walcast}: kept scratch directory $wc_scratch" >&2
	else
		rm -rf "$wc_scratch"
	fi
}
