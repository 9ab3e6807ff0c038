#!/usr/bin/env bash
# A real PostgreSQL server for the tests, from Debian's `postgresql` package (initdb/pg_ctl in a
# state directory, on a loopback port, as an unprivileged user: initdb and postgres refuse root).
#
#   bash scripts/postgres.sh install            the server binaries (apt-get, if none are there)
#   bash scripts/postgres.sh start STATE_DIR    initdb (first time) and start; prints the DSN
#   bash scripts/postgres.sh stop STATE_DIR     fast shutdown (sessions ended, data kept)
#   bash scripts/postgres.sh status STATE_DIR   exit 0 and print the DSN while it runs
#
# STATE_DIR holds data/ (the cluster, stock postgresql.conf but for port, listen_addresses and
# unix_socket_directories), postgres.log, port and dsn. A second `start` on the same STATE_DIR
# starts the same server again: same port, same data, same DSN. As root, the server runs as
# the system user $POSTGRES_OS_USER (created if missing), which must be able to reach STATE_DIR
# (make it with `mktemp -d`, not under a directory only root may enter).
#
# The DSN is postgresql://fhir_evidence:PASSWORD@127.0.0.1:PORT/postgres: a password (scram)
# role that may create databases; the superuser is reachable only through the socket.
#
# Environment (all optional):
#   POSTGRES_BIN           the server's bin directory (default: newest /usr/lib/postgresql/*/bin)
#   POSTGRES_OS_USER       the system user the server runs as under root (default fhirpg)
#   POSTGRES_PORT          the port of a new STATE_DIR (default: a free port)
#   POSTGRES_START_TIMEOUT seconds to wait for the server to accept connections (default 60)
#   POSTGRES_WATCH_PID     stop the server when this process exits (the test runner sets it,
#                          so a killed test run leaves no server behind)
set -euo pipefail

# shellcheck source=scripts/lib/servers.sh
. "$(dirname "$0")/lib/servers.sh"
OS_USER="${POSTGRES_OS_USER:-fhirpg}"
ROLE=fhir_evidence
PID_FILE=data/postmaster.pid
ADDRESS_FILE=dsn

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

bin_dir() {
  if [ -n "${POSTGRES_BIN:-}" ]; then
    echo "$POSTGRES_BIN"
    return
  fi
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  [ -n "$found" ] && [ -x "$found/postgres" ] || return 1
  echo "$found"
}

cmd_install() {
  if bin_dir >/dev/null; then
    bin_dir
    return
  fi
  say "installing Debian's postgresql package"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  } || die "apt-get install postgresql failed"
  bin_dir || die "no server binaries under /usr/lib/postgresql/*/bin after the install"
}

# Run a server command as the unprivileged user (as is, when not root).
as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$OS_USER" -- "$@"
  else
    "$@"
  fi
}

ensure_os_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  id -u "$OS_USER" >/dev/null 2>&1 && return 0
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$OS_USER" \
    || id -u "$OS_USER" >/dev/null 2>&1 || die "could not create the system user $OS_USER"
}

# The postmaster's pid if this STATE_DIR's server runs.
server_pid() {
  recorded_pid "$1"
}

init_cluster() {
  local state="$1" bin="$2" port password
  port="${POSTGRES_PORT:-$(free_port)}"
  password="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
  if [ "$(id -u)" -eq 0 ]; then
    chown "$OS_USER" "$state"
    chmod 700 "$state"
  fi
  as_server_user test -w "$state" || die "$OS_USER cannot write $state (make it with mktemp -d)"
  rm -rf "$state/data"
  as_server_user "$bin/initdb" -D "$state/data" -U postgres -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 >"$state/initdb.log" 2>&1 \
    || die "initdb failed: $(tail -n 20 "$state/initdb.log")"
  as_server_user tee -a "$state/data/postgresql.conf" >/dev/null <<EOF
# Written by scripts/postgres.sh: a loopback server for the tests.
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$state'
EOF
  echo "$port" >"$state/port"
  echo "$password" >"$state/password"
  chmod 600 "$state/password"
}

create_role() {
  local state="$1" bin="$2" port password
  port="$(cat "$state/port")"
  password="$(cat "$state/password")"
  as_server_user "$bin/psql" -q -h "$state" -p "$port" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 -v password="$password" >/dev/null <<'EOF' || die "creating the test role failed"
SELECT format('CREATE ROLE fhir_evidence LOGIN CREATEDB PASSWORD %L', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fhir_evidence') \gexec
EOF
  echo "postgresql://$ROLE:$password@127.0.0.1:$port/postgres" >"$state/dsn"
  chmod 600 "$state/dsn"
}

cmd_start() {
  local state bin pid
  state="$(state_dir_arg "$@")"
  running_address "$state" && return 0
  bin="$(bin_dir)" || die "no PostgreSQL server binaries (run: bash scripts/postgres.sh install)"
  ensure_os_user
  [ -f "$state/data/PG_VERSION" ] || init_cluster "$state" "$bin"
  as_server_user "$bin/pg_ctl" -D "$state/data" -l "$state/postgres.log" -w \
    -t "${POSTGRES_START_TIMEOUT:-60}" start >/dev/null \
    || die "the server did not start; last lines of $state/postgres.log:
$(tail -n 30 "$state/postgres.log" 2>/dev/null)"
  [ -f "$state/dsn" ] || create_role "$state" "$bin"
  pid="$(server_pid "$state")" || die "the server exited during start-up"
  watch_for "$state" "$pid" "${POSTGRES_WATCH_PID:-}"
  cat "$state/dsn"
}

cmd_stop() {
  local state bin
  state="$(state_dir_arg "$@")"
  server_pid "$state" >/dev/null || return 0
  bin="$(bin_dir)" || die "no PostgreSQL server binaries"
  as_server_user "$bin/pg_ctl" -D "$state/data" -m fast -w -t 60 stop >/dev/null \
    || die "pg_ctl stop failed"
}

main "install start stop status _watch" \
  "install | start STATE_DIR | stop STATE_DIR | status STATE_DIR" "$@"
