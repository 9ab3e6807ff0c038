# shellcheck shell=bash
# What the test-server scripts in scripts/ (kafka.sh, postgres.sh, hapi.sh, keycloak.sh,
# hl7-validator.sh, hapi-client.sh) have in common, sourced by each right after `set -euo
# pipefail`: their messages, the cache they fetch into, free ports, and the life of a server
# process on a state directory (start, readiness, watcher, stop, kill, status).
#
# The server functions rely on what the sourcing script defines:
#   PID_FILE        where STATE_DIR records its server's pid (pid, or postgres's
#                   data/postmaster.pid), relative to STATE_DIR
#   ADDRESS_FILE    the file in STATE_DIR holding what `start` and `status` print
#   SERVER_NOUN     what to call the server in start-up failures ("broker", "keycloak")
#   STOP_TIMEOUT    seconds from SIGTERM to SIGKILL for `stop` (unless it has its own cmd_stop)
#   server_pid      STATE: print its server's pid and succeed while it runs
#   cmd_start       STATE_DIR: start it, print what it answers to
# and may define after sourcing it, in place of the ones here:
#   cmd_stop        STATE_DIR: stop its server (the watcher calls it too)
#   startup_lines   this start's log lines to show when it fails
# The script ends with `main COMMANDS USAGE "$@"` (which sets CMD, the command being run).

# Messages start with the script's name: the Python helpers that run these scripts take the
# last "NAME: reason" line of stderr as the summary of a failure.
SCRIPT_NAME="$(basename "$0")"
CACHE_ROOT="${FHIR_EVIDENCE_CACHE:-$HOME/.cache/fhir-evidence}"

say() {
  echo "$SCRIPT_NAME: $*" >&2
}

die() {
  say "$@"
  exit 1
}

# --- fetch: a cache built once, keyed on what it was built from ---------------------------

# The SHA-256 of stdin, hex.
sha256() {
  sha256sum | cut -d' ' -f1
}

# Whether MARKER's first line is KEY: the cache next to it was built from what KEY describes
# (versions, hashes of the pom and sources); a later line may list what the cache holds.
marker_says() {
  [ -f "$1" ] && [ "$(head -n1 "$1")" = "$2" ]
}

# Record KEY in MARKER, then the names of the files in DIR when given one.
write_marker() {
  local marker="$1" key="$2" dir="${3:-}"
  { echo "$key"; [ -z "$dir" ] || (cd "$dir" && ls); } >"$marker"
}

# Run BUILD unless COMPLETE succeeds, one caller at a time per cache DIR: a second caller waits
# for the first, then finds the cache complete.
fetch_once() {
  local dir="$1" complete="$2" build="$3"
  "$complete" && return 0
  mkdir -p "$dir"
  (
    flock 9
    "$complete" || "$build"
  ) 9>"$dir/.fetch.lock"
}

need_command() {
  command -v "$1" >/dev/null || die "$1 not found ($2)"
}

# mvn OPTIONS... GOALS, quiet and in batch mode, its output on stderr (stdout carries the
# script's answer). When it fails: remove SCRATCH (the half-built cache) and die.
maven_build() {
  local scratch="$1" goals="$2"
  shift 2
  # shellcheck disable=SC2086  # GOALS is a list of goals
  mvn -q -B -Dstyle.color=never "$@" $goals >&2 && return 0
  rm -rf "$scratch"
  die "mvn $goals failed"
}

# --- java ----------------------------------------------------------------------------------

# java.specification.version of the java JAVA ("17", "21", "1.8").
java_version() {
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'
}

# Fail through FAIL (default die) unless JAVA (a name on PATH or a path) is a Java MIN+;
# WHO is what needs it, in the message.
require_java() {
  local java="$1" min="$2" who="$3" fail="${4:-die}" version
  command -v "$java" >/dev/null || "$fail" "java not found ($who needs Java $min+)"
  version="$(java_version "$java")"
  [ "${version%%.*}" -ge "$min" ] 2>/dev/null || "$fail" "$who needs Java $min+, $java is $version"
}

# --- a server on a state directory ---------------------------------------------------------

# `CMD STATE_DIR`'s STATE_DIR, made if missing, as an absolute path.
state_dir_arg() {
  [ $# -ge 1 ] && [ -n "$1" ] || die "usage: $SCRIPT_NAME $CMD STATE_DIR"
  mkdir -p "$1"
  (cd "$1" && pwd)
}

# A free TCP port on 127.0.0.1, asked of PYTHON (default python3).
free_port() {
  "${1:-python3}" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# A free port other than PORT (a server's second listener).
free_port_besides() {
  local port
  port="$(free_port "${2:-}")"
  while [ "$port" = "$1" ]; do port="$(free_port "${2:-}")"; done
  echo "$port"
}

# The pid recorded in STATE/$PID_FILE while that process lives and, given MARK, while its
# command line holds MARK (the system may have given a dead server's pid to another process).
recorded_pid() {
  local state="$1" mark="${2:-}" pid
  [ -f "$state/$PID_FILE" ] || return 1
  pid="$(head -n1 "$state/$PID_FILE")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [ -z "$mark" ] || tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$mark" \
    || return 1
  echo "$pid"
}

# Print what STATE's running server answers to (ADDRESS_FILE); fail when none runs.
running_address() {
  server_pid "$1" >/dev/null && [ -f "$1/$ADDRESS_FILE" ] && cat "$1/$ADDRESS_FILE"
}

# Note where this start's lines of LOG (made if missing) begin: sets START_LOG, START_OFFSET.
begin_log() {
  START_LOG="$1"
  touch "$START_LOG"
  START_OFFSET="$(stat -c %s "$START_LOG")"
}

# This start's lines of START_LOG.
log_since_start() {
  tail -c +"$((START_OFFSET + 1))" "$START_LOG"
}

# What a failed start shows; a script may define its own after sourcing this file.
startup_lines() {
  log_since_start | tail -n 30
}

# Have `_watch` stop STATE's server PID once WATCHED (a pid; nothing when empty) exits: the
# test runner sets it, so a killed test run leaves no server behind.
watch_for() {
  local state="$1" pid="$2" watched="$3"
  [ -n "$watched" ] || return 0
  nohup bash "$0" _watch "$state" "$pid" "$watched" </dev/null >/dev/null 2>&1 &
}

# Record PID, just started, as STATE's server, watched by WATCHED (see watch_for).
record_server() {
  echo "$2" >"$1/$PID_FILE"
  watch_for "$@"
}

# Wait until READY... succeeds, polling every INTERVAL seconds, for STATE's server PID that was
# just started. When it exits first, forget it and die showing startup_lines; after TIMEOUT
# seconds, stop it, forget it and die.
await_ready() {
  local state="$1" pid="$2" timeout="$3" interval="$4" deadline
  shift 4
  deadline=$((SECONDS + timeout))
  until "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$state/$PID_FILE"
      die "$SERVER_NOUN exited during start-up; last lines of $START_LOG:
$(startup_lines)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      terminate "$pid" 10
      rm -f "$state/$PID_FILE"
      die "$SERVER_NOUN did not answer within ${timeout}s; see $START_LOG"
    fi
    sleep "$interval"
  done
}

# SIGTERM to PID, SIGKILL once TIMEOUT seconds have passed; returns when it is gone. With
# SERVER_OWN_GROUP=1 (a server started with setsid) the whole process group gets the signals,
# the processes it started too.
terminate() {
  local target="$1" timeout="$2" deadline
  if [ "${SERVER_OWN_GROUP:-0}" = 1 ] && kill -0 -- "-$1" 2>/dev/null; then
    target="-$1"
  fi
  kill -TERM -- "$target" 2>/dev/null || return 0
  deadline=$((SECONDS + timeout))
  while kill -0 -- "$target" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL -- "$target" 2>/dev/null || true
    fi
    sleep 0.1
  done
}

# Stop STATE's server, if it runs (see terminate), and forget its pid.
stop_server() {
  local state="$1" timeout="$2" pid
  if pid="$(server_pid "$state")"; then
    terminate "$pid" "$timeout"
  fi
  rm -f "$state/$PID_FILE"
}

# `stop STATE_DIR`: SIGTERM, SIGKILL after STOP_TIMEOUT seconds.
cmd_stop() {
  local state
  state="$(state_dir_arg "$@")"
  stop_server "$state" "$STOP_TIMEOUT"
}

# `kill STATE_DIR`: SIGKILL at once (a crash), and forget the pid.
cmd_kill() {
  local state pid
  state="$(state_dir_arg "$@")"
  if pid="$(server_pid "$state")"; then
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
  rm -f "$state/$PID_FILE"
}

# `status STATE_DIR`: exit 0 and print what `start` printed while the server runs.
cmd_status() {
  local state
  state="$(state_dir_arg "$@")"
  running_address "$state" || { echo "not running" >&2; return 1; }
}

# Internal `_watch STATE PID WATCHED` (see watch_for): end quietly when the server ends first
# or another start replaced it.
cmd_watch() {
  local state="$1" pid="$2" watched="$3"
  while kill -0 "$watched" 2>/dev/null; do
    # The recorded pid, not server_pid: right after the fork the command line is not yet the
    # server's.
    [ "$(head -n1 "$state/$PID_FILE" 2>/dev/null)" = "$pid" ] && kill -0 "$pid" 2>/dev/null \
      || return 0
    sleep 2
  done
  if [ "$(server_pid "$state" 2>/dev/null)" = "$pid" ]; then
    cmd_stop "$state"
  fi
}

# The command line `NAME ARGS...`: cmd_NAME ARGS when NAME is one of COMMANDS (`_watch`, the
# watcher's, runs cmd_watch), else die showing USAGE.
main() {
  local commands="$1" usage="$2" name
  shift 2
  CMD="${1:-}"
  [ $# -gt 0 ] && shift
  for name in $commands; do
    if [ "$CMD" = "$name" ]; then
      "cmd_${CMD#_}" "$@"
      return
    fi
  done
  die "usage: $SCRIPT_NAME $usage"
}
