#!/usr/bin/env bash
# HAPI FHIR's generic REST client (R4) for the client-interop tests (tests/interop), run from
# Maven Central jars, with our own scenario program (scripts/hapi-client/src) compiled
# against them.
#
#   bash scripts/hapi-client.sh fetch   resolve the jars and compile the scenario into the cache
#                                       (idempotent; prints the cache dir)
#   bash scripts/hapi-client.sh run     run the scenario in one JVM: it prints one JSON line
#                                       {step, ok, detail} per step and exits 0 when every step
#                                       passed, 1 when one failed; 3 when it cannot run (no
#                                       Java 17+, or not fetched: it never fetches itself)
#   bash scripts/hapi-client.sh check   exit 0 when `run` can run, else 3 saying why
#
# `run` reads FHIR_BASE_URL (".../fhir"), FHIR_TOKEN (system scopes for every type plus
# `export`) and FHIR_NARROW_TOKEN (no Observation scope) from the environment.
#
# Environment (all optional):
#   HAPI_CLIENT_VERSION   ca.uhn.hapi.fhir:hapi-fhir-client version (default 8.8.1)
#   FHIR_EVIDENCE_CACHE   cache root (default ~/.cache/fhir-evidence); jars go to
#                         $FHIR_EVIDENCE_CACHE/hapi-client-$HAPI_CLIENT_VERSION/libs, the compiled
#                         scenario to .../classes
#   HAPI_CLIENT_JVM_OPTS  JVM options (default -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/lib/servers.sh
. "$HERE/lib/servers.sh"
HAPI_CLIENT_VERSION="${HAPI_CLIENT_VERSION:-8.8.1}"
HOME_DIR="$CACHE_ROOT/hapi-client-$HAPI_CLIENT_VERSION"
LIBS="$HOME_DIR/libs"
CLASSES="$HOME_DIR/classes"
MARKER="$HOME_DIR/complete"
LIBS_MARKER="$HOME_DIR/libs.complete"
POM="$HERE/hapi-client/pom.xml"
SRC="$HERE/hapi-client/src"
MAIN_CLASS=fhirevidence.interop.HapiClientScenario

sources() {
  find "$SRC" -name '*.java' | LC_ALL=C sort
}

libs_key() {
  # What libs/ was resolved from: a changed pom or version means resolving again.
  echo "hapi-fhir-client:$HAPI_CLIENT_VERSION pom:$(sha256 <"$POM")"
}

fetch_key() {
  # What classes/ was compiled from: the libs and every source file.
  echo "$(libs_key) src:$(sources | xargs cat | sha256)"
}

libs_complete() {
  marker_says "$LIBS_MARKER" "$(libs_key)"
}

cache_complete() {
  marker_says "$MARKER" "$(fetch_key)"
}

cannot_run() {
  say "$@"
  exit 3
}

cmd_fetch() {
  fetch_once "$HOME_DIR" cache_complete build_cache
  echo "$HOME_DIR"
}

build_cache() {
  need_command mvn "apt-get install maven"
  need_command javac "a JDK 17+ is needed"
  libs_complete || resolve_libs
  compile_scenario
}

resolve_libs() {
  local tmp="$HOME_DIR/libs.tmp.$$"
  rm -rf "$tmp"
  say "resolving ca.uhn.hapi.fhir:hapi-fhir-client:$HAPI_CLIENT_VERSION"
  maven_build "$tmp" dependency:copy-dependencies -f "$POM" \
    -Dhapi.version="$HAPI_CLIENT_VERSION" -DincludeScope=runtime -DoutputDirectory="$tmp"
  [ -f "$tmp/hapi-fhir-client-$HAPI_CLIENT_VERSION.jar" ] \
    || die "no hapi-fhir-client-$HAPI_CLIENT_VERSION.jar in $tmp"
  rm -rf "$LIBS" "$LIBS_MARKER" "$MARKER"
  mv "$tmp" "$LIBS"
  write_marker "$LIBS_MARKER" "$(libs_key)" "$LIBS"
}

compile_scenario() {
  local tmp="$HOME_DIR/classes.tmp.$$" files
  rm -rf "$tmp"
  mapfile -t files < <(sources)
  if ! javac -nowarn -encoding UTF-8 --release 17 -cp "$LIBS/*" -d "$tmp" "${files[@]}" >&2; then
    rm -rf "$tmp"
    die "javac failed on $SRC"
  fi
  rm -rf "$CLASSES" "$MARKER"
  mv "$tmp" "$CLASSES"
  write_marker "$MARKER" "$(fetch_key)"
}

cmd_check() {
  require_java java 17 "HAPI FHIR" cannot_run
  cache_complete || cannot_run "not fetched (or sources changed): bash scripts/hapi-client.sh fetch"
}

cmd_run() {
  cmd_check
  # shellcheck disable=SC2086  # HAPI_CLIENT_JVM_OPTS is a list of options
  exec java ${HAPI_CLIENT_JVM_OPTS:--Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1} \
    -cp "$CLASSES:$LIBS/*" "$MAIN_CLASS"
}

main "fetch check run" "fetch | check | run" "$@"
