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
VERSION="${HL7_VALIDATOR_HAPI_VERSION:-8.8.1}"
CACHE_ROOT="${FHIR_EVIDENCE_CACHE:-$HOME/.cache/fhir-evidence}"
HOME_DIR="$CACHE_ROOT/hl7-validator-$VERSION"
LIBS="$HOME_DIR/libs"
CLASSES="$HOME_DIR/classes"
MARKER="$HOME_DIR/complete"
POM="$HERE/hl7-validator/pom.xml"
SRC="$HERE/hl7-validator/src"
MAIN_CLASS=fhirevidence.validator.ValidatorServer

die() {
  echo "hl7-validator.sh: $*" >&2
  exit 1
}

java_bin() {
  local java="${HL7_VALIDATOR_JAVA:-java}" major
  command -v "$java" >/dev/null || die "java not found (the validator needs Java 17+)"
  major="$("$java" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java.specification.version = //p')"
  [ "${major%%.*}" -ge 17 ] 2>/dev/null || die "the validator needs Java 17+, $java is $major"
  echo "$java"
}

# --- fetch ---------------------------------------------------------------------------------

fetch_key() {
  # What the cache was made from: a changed pom, source or version means fetch again.
  echo "hapi-fhir-validation:$VERSION pom:$(sha256sum "$POM" | cut -d' ' -f1)" \
    "src:$(find "$SRC" -name '*.java' -type f -print0 | sort -z | xargs -0 cat | sha256sum \
      | cut -d' ' -f1)"
}

fetch_complete() {
  [ -f "$MARKER" ] && [ "$(head -n1 "$MARKER")" = "$(fetch_key)" ]
}

cmd_fetch() {
  if ! fetch_complete; then
    mkdir -p "$HOME_DIR"
    # One fetch at a time per version; a second caller waits, then finds it complete.
    (
      flock 9
      fetch_complete || build
    ) 9>"$HOME_DIR/.fetch.lock"
  fi
  echo "$HOME_DIR"
}

build() {
  local java javac tmp="$HOME_DIR/build.tmp.$$"
  java="$(java_bin)"
  javac="$(dirname "$(readlink -f "$(command -v "$java")")")/javac"
  [ -x "$javac" ] || javac="$(command -v javac)" || die "javac not found (install a JDK 17+)"
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  rm -rf "$tmp"
  echo "hl7-validator.sh: resolving ca.uhn.hapi.fhir:hapi-fhir-validation:$VERSION" >&2
  if ! mvn -q -B -Dstyle.color=never -f "$POM" -Dhapi.version="$VERSION" \
    -DincludeScope=runtime -DoutputDirectory="$tmp/libs" dependency:copy-dependencies >&2; then
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed"
  fi
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
  fetch_key >"$MARKER"
}

# --- the validator -------------------------------------------------------------------------

state_dir_arg() {
  [ $# -ge 1 ] && [ -n "$1" ] || die "usage: hl7-validator.sh $CMD STATE_DIR"
  mkdir -p "$1"
  (cd "$1" && pwd)
}

# The pid from STATE/pid if that process is alive and is this STATE_DIR's validator.
validator_pid() {
  local state="$1" pid
  [ -f "$state/pid" ] || return 1
  pid="$(cat "$state/pid")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$MAIN_CLASS $state/port" || return 1
  echo "$pid"
}

cmd_start() {
  local state java pid deadline
  state="$(state_dir_arg "$@")"
  if validator_pid "$state" >/dev/null && [ -f "$state/url" ]; then
    cat "$state/url"
    return 0
  fi
  java="$(java_bin)"
  cmd_fetch >/dev/null
  rm -f "$state/port" "$state/url"
  local watch=()
  [ -n "${HL7_VALIDATOR_WATCH_PID:-}" ] && watch=(-Dwatch.pid="$HL7_VALIDATOR_WATCH_PID")
  # shellcheck disable=SC2086  # HL7_VALIDATOR_HEAP and HL7_VALIDATOR_JVM_OPTS are lists
  nohup "$java" ${HL7_VALIDATOR_HEAP:--Xms128m -Xmx1g} \
    ${HL7_VALIDATOR_JVM_OPTS:--XX:+UseSerialGC} -Djava.awt.headless=true \
    -XX:+ExitOnOutOfMemoryError "${watch[@]}" -cp "$CLASSES:$LIBS/*" \
    "$MAIN_CLASS" "$state/port" </dev/null >>"$state/validator.log" 2>&1 &
  pid=$!
  echo "$pid" >"$state/pid"
  deadline=$((SECONDS + ${HL7_VALIDATOR_START_TIMEOUT:-180}))
  until [ -s "$state/port" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$state/pid"
      die "the validator exited during start-up: $(tail -n 20 "$state/validator.log")"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      stop_pid "$pid"
      rm -f "$state/pid"
      die "the validator was not ready within ${HL7_VALIDATOR_START_TIMEOUT:-180}s"
    fi
    sleep 0.2
  done
  echo "http://127.0.0.1:$(cat "$state/port")" >"$state/url"
  cat "$state/url"
}

stop_pid() {
  local pid="$1" deadline
  kill -TERM "$pid" 2>/dev/null || return 0
  deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -ge "$deadline" ] && kill -KILL "$pid" 2>/dev/null
    sleep 0.1
  done
}

cmd_stop() {
  local state pid
  state="$(state_dir_arg "$@")"
  if pid="$(validator_pid "$state")"; then
    stop_pid "$pid"
  fi
  rm -f "$state/pid" "$state/url"
}

cmd_status() {
  local state
  state="$(state_dir_arg "$@")"
  validator_pid "$state" >/dev/null && [ -f "$state/url" ] \
    || { echo "not running" >&2; return 1; }
  cat "$state/url"
}

CMD="${1:-}"
[ $# -gt 0 ] && shift
case "$CMD" in
  fetch) cmd_fetch ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  *) die "usage: hl7-validator.sh fetch | start STATE_DIR | stop STATE_DIR | status STATE_DIR" ;;
esac
