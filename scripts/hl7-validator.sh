#!/usr/bin/env bash
# The HL7 FHIR validator (HAPI FHIR's instance validator: R4, the base profiles, offline
# terminology) as one long-lived JVM on a loopback port, for the conformance tests. It runs
# from Maven Central jars and our own small HTTP front (scripts/hl7-validator/src).
#
#   bash scripts/hl7-validator.sh fetch              resolve the jars and compile the front
#                                                    into the cache (idempotent); prints its dir
#   bash scripts/hl7-validator.sh start STATE_DIR    start and warm up; prints the base URL
#   bash scripts/hl7-validator.sh stop STATE_DIR     SIGTERM, SIGKILL after 10 seconds
#   bash scripts/hl7-validator.sh status STATE_DIR   exit 0 and print the base URL while it runs
#
# The running validator answers
#   POST BASE/validate[?profile=URL]   a FHIR R4 JSON resource -> its OperationOutcome (JSON)
#   GET  BASE/health                   "ok"
# STATE_DIR holds pid, port, url and validator.log.
#
# Environment (all optional):
#   HL7_VALIDATOR_HAPI_VERSION  ca.uhn.hapi.fhir:hapi-fhir-validation version (default 8.8.1)
#   FHIR_EVIDENCE_CACHE         cache root (default ~/.cache/fhir-evidence); jars go to
#                               $FHIR_EVIDENCE_CACHE/hl7-validator-$VERSION/libs, the
#                               compiled front to .../classes
#   HL7_VALIDATOR_JAVA          java to run (default: java on PATH; 17+)
#   HL7_VALIDATOR_HEAP          heap options (default -Xms128m -Xmx1g)
#   HL7_VALIDATOR_JVM_OPTS      other JVM options (default -XX:+UseSerialGC)
#   HL7_VALIDATOR_START_TIMEOUT seconds to wait for the warmed-up port (default 180)
#   HL7_VALIDATOR_WATCH_PID     the JVM exits when this process does (the test runner sets it)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/lib/servers.sh
. "$HERE/lib/servers.sh"
VERSION="${HL7_VALIDATOR_HAPI_VERSION:-8.8.1}"
HOME_DIR="$CACHE_ROOT/hl7-validator-$VERSION"
LIBS="$HOME_DIR/libs"
CLASSES="$HOME_DIR/classes"
MARKER="$HOME_DIR/complete"
POM="$HERE/hl7-validator/pom.xml"
SRC="$HERE/hl7-validator/src"
MAIN_CLASS=fhirevidence.validator.ValidatorServer
PID_FILE=pid
ADDRESS_FILE=url
SERVER_NOUN="the validator"

java_bin() {
  local java="${HL7_VALIDATOR_JAVA:-java}"
  require_java "$java" 17 "the validator"
  echo "$java"
}

# --- fetch ---------------------------------------------------------------------------------

fetch_key() {
  # What the cache was made from: a changed pom, source or version means fetch again.
  echo "hapi-fhir-validation:$VERSION pom:$(sha256 <"$POM")" \
    "src:$(find "$SRC" -name '*.java' -type f -print0 | sort -z | xargs -0 cat | sha256)"
}

fetch_complete() {
  marker_says "$MARKER" "$(fetch_key)"
}

cmd_fetch() {
  fetch_once "$HOME_DIR" fetch_complete build
  echo "$HOME_DIR"
}

build() {
  local java javac tmp="$HOME_DIR/build.tmp.$$"
  java="$(java_bin)"
  javac="$(dirname "$(readlink -f "$(command -v "$java")")")/javac"
  [ -x "$javac" ] || javac="$(command -v javac)" || die "javac not found (install a JDK 17+)"
  need_command mvn "apt-get install maven"
  rm -rf "$tmp"
  say "resolving ca.uhn.hapi.fhir:hapi-fhir-validation:$VERSION"
  maven_build "$tmp" dependency:copy-dependencies -f "$POM" -Dhapi.version="$VERSION" \
    -DincludeScope=runtime -DoutputDirectory="$tmp/libs"
  [ -f "$tmp/libs/hapi-fhir-validation-$VERSION.jar" ] \
    || die "no hapi-fhir-validation-$VERSION.jar in $tmp/libs"
  mkdir -p "$tmp/classes"
  find "$SRC" -name '*.java' -type f >"$tmp/sources"
  if ! "$javac" -nowarn --release 17 -encoding UTF-8 -d "$tmp/classes" -cp "$tmp/libs/*" \
    @"$tmp/sources" >&2; then
    rm -rf "$tmp"
    die "javac failed on $SRC"
  fi
  rm -rf "$LIBS" "$CLASSES" "$MARKER"
  mv "$tmp/libs" "$LIBS"
  mv "$tmp/classes" "$CLASSES"
  rm -rf "$tmp"
  write_marker "$MARKER" "$(fetch_key)"
}

# --- the validator -------------------------------------------------------------------------

# This STATE_DIR's validator: the pid in STATE/pid, alive, writing its port to STATE/port.
server_pid() {
  recorded_pid "$1" "$MAIN_CLASS $1/port"
}

cmd_start() {
  local state java pid
  state="$(state_dir_arg "$@")"
  running_address "$state" && return 0
  java="$(java_bin)"
  cmd_fetch >/dev/null
  rm -f "$state/port" "$state/url"
  # No _watch: the JVM itself exits when the watched process does (watch.pid).
  local watch=()
  [ -n "${HL7_VALIDATOR_WATCH_PID:-}" ] && watch=(-Dwatch.pid="$HL7_VALIDATOR_WATCH_PID")
  begin_log "$state/validator.log"
  # shellcheck disable=SC2086  # HL7_VALIDATOR_HEAP and HL7_VALIDATOR_JVM_OPTS are lists
  nohup "$java" ${HL7_VALIDATOR_HEAP:--Xms128m -Xmx1g} \
    ${HL7_VALIDATOR_JVM_OPTS:--XX:+UseSerialGC} -Djava.awt.headless=true \
    -XX:+ExitOnOutOfMemoryError "${watch[@]}" -cp "$CLASSES:$LIBS/*" \
    "$MAIN_CLASS" "$state/port" </dev/null >>"$START_LOG" 2>&1 &
  pid=$!
  record_server "$state" "$pid" ""
  # Ready once warmed up: the front writes its port only then.
  await_ready "$state" "$pid" "${HL7_VALIDATOR_START_TIMEOUT:-180}" 0.2 test -s "$state/port"
  echo "http://127.0.0.1:$(cat "$state/port")" >"$state/url"
  cat "$state/url"
}

cmd_stop() {
  local state
  state="$(state_dir_arg "$@")"
  stop_server "$state" 10
  rm -f "$state/url"
}

main "fetch start stop status" \
  "fetch | start STATE_DIR | stop STATE_DIR | status STATE_DIR" "$@"
