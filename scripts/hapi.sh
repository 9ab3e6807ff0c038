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
# shellcheck source=scripts/lib/servers.sh
. "$HERE/lib/servers.sh"
HAPI_VERSION="${HAPI_VERSION:-8.8.0}"
HAPI_HOME="$CACHE_ROOT/hapi-$HAPI_VERSION"
LIBS="$HAPI_HOME/libs"
SERVER_JAR="$HAPI_HOME/hapi-upstream.jar"
MARKER="$HAPI_HOME/build.complete"
SRC="$HERE/hapi"
POM="$SRC/pom.xml"
MAIN_CLASS=fhirevidence.hapi.UpstreamServer
PID_FILE=pid
ADDRESS_FILE=base_url
SERVER_NOUN=server
STOP_TIMEOUT="${HAPI_STOP_TIMEOUT:-30}"

# --- fetch ---------------------------------------------------------------------------------

fetch_key() {
  # What the build was made from: a changed pom, source file or version means build again.
  local sources
  sources="$(cd "$SRC" && find pom.xml src -type f | LC_ALL=C sort | xargs sha256sum | sha256sum)"
  echo "hapi-fhir-jpaserver-base:$HAPI_VERSION src:${sources%% *}"
}

build_complete() {
  marker_says "$MARKER" "$(fetch_key)" && [ -f "$SERVER_JAR" ]
}

cmd_fetch() {
  fetch_once "$HAPI_HOME" build_complete build_server
  echo "$HAPI_HOME"
}

build_server() {
  local tmp="$HAPI_HOME/build.tmp.$$"
  need_command mvn "apt-get install maven"
  java_cmd >/dev/null
  rm -rf "$tmp"
  say "building the HAPI FHIR $HAPI_VERSION upstream (jars from Maven Central)"
  maven_build "$tmp" "package dependency:copy-dependencies" -f "$POM" \
    -Dhapi.version="$HAPI_VERSION" -Dhapi.build.dir="$tmp/target" -DincludeScope=runtime \
    -DoutputDirectory="$tmp/libs"
  [ -f "$tmp/libs/hapi-fhir-jpaserver-base-$HAPI_VERSION.jar" ] \
    || die "no hapi-fhir-jpaserver-base-$HAPI_VERSION.jar in $tmp/libs"
  rm -rf "$LIBS" "$SERVER_JAR" "$MARKER"
  mv "$tmp/target/hapi-upstream-1.jar" "$SERVER_JAR"
  mv "$tmp/libs" "$LIBS"
  rm -rf "$tmp"
  write_marker "$MARKER" "$(fetch_key)" "$LIBS"
}

# --- server --------------------------------------------------------------------------------

java_cmd() {
  local java="${JAVA:-java}"
  require_java "$java" 17 "HAPI FHIR $HAPI_VERSION"
  echo "$java"
}

# This STATE_DIR's server: the pid in STATE/pid, alive, started for this STATE_DIR.
server_pid() {
  recorded_pid "$1" "-Dfhir_evidence.hapi.state=$1 "
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

# The main class logged that it started, and the JPA layer answers.
server_ready() {
  log_since_start | grep -q "HAPI FHIR upstream started" && metadata_answers "$1"
}

# A failed start shows the log without the Java stack frames.
startup_lines() {
  log_since_start | grep -vE '^\s+at ' | tail -n 30
}

cmd_start() {
  local state java pid base_url port
  state="$(state_dir_arg "$@")"
  running_address "$state" && return 0
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
  begin_log "$state/logs/server.log"
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
    -cp "$SERVER_JAR:$LIBS/*" "$MAIN_CLASS" </dev/null >>"$START_LOG" 2>&1 &
  pid=$!
  record_server "$state" "$pid" "${HAPI_WATCH_PID:-}"
  await_ready "$state" "$pid" "${HAPI_START_TIMEOUT:-240}" 0.5 server_ready "$base_url"
  echo "$base_url"
}

main "fetch start stop kill status _watch" \
  "fetch | start STATE_DIR | stop STATE_DIR | kill STATE_DIR | status STATE_DIR" "$@"
