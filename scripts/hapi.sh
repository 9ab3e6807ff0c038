#!/usr/bin/env bash
# A real HAPI FHIR JPA server (FHIR R4, in-memory H2, Jetty 12) from the Maven Central jars:
# the upstream FHIR server of the gateway tests (issue 17) and the peer of bench.guarded_reads
# (issue 19). No Docker, no Spring Boot: our own small main class (scripts/hapi/src) wires
# HAPI's JPA configuration; no authorization, no audit, nothing kept on disk.
#
#   bash scripts/hapi.sh fetch              compile the main class and copy it with every
#                                           runtime jar into the cache (idempotent)
#   bash scripts/hapi.sh start STATE_DIR    start; prints the FHIR base URL once it answers
#   bash scripts/hapi.sh stop STATE_DIR     SIGTERM, SIGKILL after HAPI_STOP_TIMEOUT seconds
#   bash scripts/hapi.sh kill STATE_DIR     SIGKILL at once (a crash)
#   bash scripts/hapi.sh status STATE_DIR   exit 0 and print the base URL while it runs
#
# STATE_DIR holds base_url, pid and logs/server.log. The database lives in the JVM's memory:
# a restart on the same STATE_DIR keeps the port but starts empty.
#
# Environment (all optional):
#   HAPI_VERSION          ca.uhn.hapi.fhir:hapi-fhir-jpaserver-base version (default 8.8.0)
#   FHIR_EVIDENCE_CACHE   cache root (default ~/.cache/fhir-evidence); the build goes to
#                         $FHIR_EVIDENCE_CACHE/hapi-$HAPI_VERSION (server jar + libs/)
#   HAPI_PORT             port for a new STATE_DIR (default: a free port), on 127.0.0.1
#   HAPI_HEAP_OPTS        JVM heap options (default -Xms128m -Xmx768m)
#   HAPI_JVM_OPTS         other JVM options (default -XX:+UseSerialGC -XX:TieredStopAtLevel=1:
#                         a faster start in less memory on a small shared machine; a benchmark
#                         may want full JIT: HAPI_JVM_OPTS=-XX:+UseParallelGC)
#   HAPI_SERVER_OPTS      system properties of the main class (UpstreamServer.java), e.g.
#                         -Dhapi.threads=64 -Dhapi.page.default=20 -Dhapi.page.max=500
#   HAPI_START_TIMEOUT    seconds to wait for /fhir/metadata to answer (default 240)
#   HAPI_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL (default 30)
#   HAPI_WATCH_PID        stop the server when this process exits (the test runner sets it,
#                         so a killed test run leaves no JVM behind)
#   JAVA                  the java binary (default: java on PATH; Java 17+)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
HAPI_VERSION="${HAPI_VERSION:-8.8.0}"
CACHE_ROOT="${FHIR_EVIDENCE_CACHE:-$HOME/.cache/fhir-evidence}"
HAPI_HOME="$CACHE_ROOT/hapi-$HAPI_VERSION"
LIBS="$HAPI_HOME/libs"
SERVER_JAR="$HAPI_HOME/hapi-upstream.jar"
MARKER="$HAPI_HOME/build.complete"
SRC="$HERE/hapi"
POM="$SRC/pom.xml"
MAIN_CLASS=fhirevidence.hapi.UpstreamServer

die() {
  echo "hapi.sh: $*" >&2
  exit 1
}

# --- fetch ---------------------------------------------------------------------------------

fetch_key() {
  # What the build was made from: a changed pom, source file or version means build again.
  local sources
  sources="$(cd "$SRC" && find pom.xml src -type f | LC_ALL=C sort | xargs sha256sum | sha256sum)"
  echo "hapi-fhir-jpaserver-base:$HAPI_VERSION src:${sources%% *}"
}

build_complete() {
  [ -f "$MARKER" ] && [ "$(head -n1 "$MARKER")" = "$(fetch_key)" ] && [ -f "$SERVER_JAR" ]
}

cmd_fetch() {
  if ! build_complete; then
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    java_cmd >/dev/null
    mkdir -p "$HAPI_HOME"
    # One build at a time per version; a second caller waits, then finds it complete.
    (
      flock 9
      build_complete || build_server
    ) 9>"$HAPI_HOME/.fetch.lock"
  fi
  echo "$HAPI_HOME"
}

build_server() {
  local tmp="$HAPI_HOME/build.tmp.$$"
  rm -rf "$tmp"
  echo "hapi.sh: building the HAPI FHIR $HAPI_VERSION upstream (jars from Maven Central)" >&2
  if ! mvn -q -B -Dstyle.color=never -f "$POM" -Dhapi.version="$HAPI_VERSION" \
    -Dhapi.build.dir="$tmp/target" -DincludeScope=runtime -DoutputDirectory="$tmp/libs" \
    package dependency:copy-dependencies >&2; then
    rm -rf "$tmp"
    die "mvn package dependency:copy-dependencies failed"
  fi
  [ -f "$tmp/libs/hapi-fhir-jpaserver-base-$HAPI_VERSION.jar" ] \
    || die "no hapi-fhir-jpaserver-base-$HAPI_VERSION.jar in $tmp/libs"
  rm -rf "$LIBS" "$SERVER_JAR" "$MARKER"
  mv "$tmp/target/hapi-upstream-1.jar" "$SERVER_JAR"
  mv "$tmp/libs" "$LIBS"
  rm -rf "$tmp"
  { fetch_key; (cd "$LIBS" && ls); } >"$MARKER"
}

# --- server --------------------------------------------------------------------------------

java_cmd() {
  local java="${JAVA:-java}" major
  command -v "$java" >/dev/null || die "java not found (HAPI FHIR $HAPI_VERSION needs Java 17+)"
  major="$("$java" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java.specification.version = //p')"
  [ "${major%%.*}" -ge 17 ] 2>/dev/null || die "HAPI FHIR needs Java 17+, $java is $major"
  echo "$java"
}

state_dir_arg() {
  [ $# -ge 1 ] && [ -n "$1" ] || die "usage: hapi.sh $CMD STATE_DIR"
  mkdir -p "$1"
  (cd "$1" && pwd)
}

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# The pid from STATE/pid if that process is alive and is this STATE_DIR's server.
server_pid() {
  local state="$1" pid
  [ -f "$state/pid" ] || return 1
  pid="$(cat "$state/pid")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null \
    | grep -qF -- "-Dfhir_evidence.hapi.state=$state " || return 1
  echo "$pid"
}

metadata_answers() {
  # 200 from GET /metadata: the REST servlet is up and the JPA layer answers.
  local url="$1/metadata"
  if command -v curl >/dev/null; then
    [ "$(curl -s -o /dev/null -m 30 -w '%{http_code}' "$url")" = 200 ]
  else
    python3 - "$url" <<'EOF' >/dev/null 2>&1
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=30) as answer:
    sys.exit(0 if answer.status == 200 else 1)
EOF
  fi
}

cmd_start() {
  local state java pid log offset deadline base_url port
  state="$(state_dir_arg "$@")"
  if pid="$(server_pid "$state")"; then
    cat "$state/base_url"
    return 0
  fi
  java="$(java_cmd)"
  cmd_fetch >/dev/null
  mkdir -p "$state/logs"
  if [ ! -f "$state/base_url" ]; then
    port="${HAPI_PORT:-$(free_port)}"
    echo "http://127.0.0.1:$port/fhir" >"$state/base_url"
  fi
  base_url="$(cat "$state/base_url")"
  port="${base_url##*:}"
  port="${port%%/*}"
  log="$state/logs/server.log"
  touch "$log"
  offset="$(stat -c %s "$log")"
  # shellcheck disable=SC2086  # the *_OPTS variables are lists of options
  nohup "$java" ${HAPI_HEAP_OPTS:--Xms128m -Xmx768m} \
    ${HAPI_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1} \
    -Djava.awt.headless=true -XX:+ExitOnOutOfMemoryError \
    -Dfhir_evidence.hapi.state="$state" \
    -Dorg.slf4j.simpleLogger.showDateTime=true \
    -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -Dorg.slf4j.simpleLogger.log.fhirevidence=info \
    -Dhapi.host=127.0.0.1 -Dhapi.port="$port" ${HAPI_SERVER_OPTS:-} \
    -cp "$SERVER_JAR:$LIBS/*" "$MAIN_CLASS" </dev/null >>"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$state/pid"
  if [ -n "${HAPI_WATCH_PID:-}" ]; then
    nohup bash "$0" _watch "$state" "$pid" "$HAPI_WATCH_PID" </dev/null >/dev/null 2>&1 &
  fi
  deadline=$((SECONDS + ${HAPI_START_TIMEOUT:-240}))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$state/pid"
      die "server exited during start-up; last lines of $log:
$(tail -c +"$((offset + 1))" "$log" | grep -vE '^\s+at ' | tail -n 30)"
    fi
    if tail -c +"$((offset + 1))" "$log" | grep -q "HAPI FHIR upstream started" \
      && metadata_answers "$base_url"; then
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      stop_pid "$pid" 10
      rm -f "$state/pid"
      die "server did not answer within ${HAPI_START_TIMEOUT:-240}s; see $log"
    fi
    sleep 0.5
  done
  echo "$base_url"
}

stop_pid() {
  local pid="$1" timeout="$2" deadline
  kill -TERM "$pid" 2>/dev/null || return 0
  deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.1
  done
}

cmd_stop() {
  local state pid
  state="$(state_dir_arg "$@")"
  if pid="$(server_pid "$state")"; then
    stop_pid "$pid" "${HAPI_STOP_TIMEOUT:-30}"
  fi
  rm -f "$state/pid"
}

cmd_kill() {
  local state pid
  state="$(state_dir_arg "$@")"
  if pid="$(server_pid "$state")"; then
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
  rm -f "$state/pid"
}

cmd_status() {
  local state
  state="$(state_dir_arg "$@")"
  server_pid "$state" >/dev/null || { echo "not running" >&2; return 1; }
  cat "$state/base_url"
}

# Internal: stop server PID of STATE when WATCHED exits; end quietly when the server does.
cmd_watch() {
  local state="$1" pid="$2" watched="$3"
  while kill -0 "$watched" 2>/dev/null; do
    [ "$(cat "$state/pid" 2>/dev/null)" = "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    sleep 2
  done
  if [ "$(server_pid "$state" 2>/dev/null)" = "$pid" ]; then
    stop_pid "$pid" "${HAPI_STOP_TIMEOUT:-30}"
    rm -f "$state/pid"
  fi
}

CMD="${1:-}"
[ $# -gt 0 ] && shift
case "$CMD" in
  fetch) cmd_fetch ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  kill) cmd_kill "$@" ;;
  status) cmd_status "$@" ;;
  _watch) cmd_watch "$@" ;;
  *) die "usage: hapi.sh fetch | start STATE_DIR | stop STATE_DIR | kill STATE_DIR | status STATE_DIR" ;;
esac
