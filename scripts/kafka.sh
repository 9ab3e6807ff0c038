#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for the tests,
# run from the Maven Central jars (no Docker, no tarball download).
#
#   bash scripts/kafka.sh fetch              resolve the jars into the cache (idempotent)
#   bash scripts/kafka.sh start STATE_DIR    format (first time) and start; prints the bootstrap
#   bash scripts/kafka.sh stop STATE_DIR     SIGTERM, SIGKILL after KAFKA_STOP_TIMEOUT seconds
#   bash scripts/kafka.sh kill STATE_DIR     SIGKILL at once (a crash)
#   bash scripts/kafka.sh status STATE_DIR   exit 0 and print the bootstrap while it runs
#
# STATE_DIR holds server.properties, data/ (log.dirs), logs/server.log, pid and bootstrap.
# A second `start` on the same STATE_DIR restarts the same broker: same ports, same data.
#
# Environment (all optional):
#   KAFKA_VERSION          org.apache.kafka:kafka_2.13 version (default 4.4.0)
#   FHIR_EVIDENCE_CACHE    cache root (default ~/.cache/fhir-evidence); jars go to
#                          $FHIR_EVIDENCE_CACHE/kafka-$KAFKA_VERSION/libs
#   KAFKA_PORT, KAFKA_CONTROLLER_PORT   ports for a new STATE_DIR (default: free ports)
#   KAFKA_HEAP_OPTS        JVM heap options (default -Xms64m -Xmx512m)
#   KAFKA_JVM_OPTS         other JVM options (default -XX:+UseSerialGC -XX:TieredStopAtLevel=1:
#                          on a small shared machine they start it ~30% faster in less memory)
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to answer (default 120)
#   KAFKA_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL (default 30)
#   KAFKA_WATCH_PID        stop the broker when this process exits (the test runner sets it,
#                          so a killed test run leaves no broker behind)
#   KAFKA_PROBE_PYTHON     python with aiokafka used to check that the broker answers requests
#                          (default .venv/bin/python when it has aiokafka)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
CACHE_ROOT="${FHIR_EVIDENCE_CACHE:-$HOME/.cache/fhir-evidence}"
KAFKA_HOME="$CACHE_ROOT/kafka-$KAFKA_VERSION"
LIBS="$KAFKA_HOME/libs"
MARKER="$KAFKA_HOME/libs.complete"
POM="$HERE/kafka/pom.xml"
LOG4J_CONFIG="$HERE/kafka/log4j2.properties"

die() {
  echo "kafka.sh: $*" >&2
  exit 1
}

# --- fetch ---------------------------------------------------------------------------------

fetch_key() {
  # What the libs dir was resolved from: a changed pom or version means fetch again.
  echo "kafka_2.13:$KAFKA_VERSION pom:$(sha256sum "$POM" | cut -d' ' -f1)"
}

libs_complete() {
  [ -f "$MARKER" ] && [ "$(head -n1 "$MARKER")" = "$(fetch_key)" ]
}

cmd_fetch() {
  if ! libs_complete; then
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    mkdir -p "$KAFKA_HOME"
    # One fetch at a time per version; a second caller waits, then finds it complete.
    (
      flock 9
      libs_complete || resolve_libs
    ) 9>"$KAFKA_HOME/.fetch.lock"
  fi
  echo "$LIBS"
}

resolve_libs() {
  local tmp="$KAFKA_HOME/libs.tmp.$$"
  rm -rf "$tmp"
  echo "kafka.sh: resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central" >&2
  if ! mvn -q -B -Dstyle.color=never -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
    -DincludeScope=runtime -DoutputDirectory="$tmp" dependency:copy-dependencies >&2; then
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed"
  fi
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || die "no kafka_2.13-$KAFKA_VERSION.jar in $tmp"
  rm -rf "$LIBS" "$MARKER"
  mv "$tmp" "$LIBS"
  { fetch_key; (cd "$LIBS" && ls); } >"$MARKER"
}

# --- broker --------------------------------------------------------------------------------

state_dir_arg() {
  [ $# -ge 1 ] && [ -n "$1" ] || die "usage: kafka.sh $CMD STATE_DIR"
  mkdir -p "$1"
  (cd "$1" && pwd)
}

probe_python() {
  local py="${KAFKA_PROBE_PYTHON:-$ROOT/.venv/bin/python}"
  if [ -x "$py" ] && "$py" -c "import aiokafka" 2>/dev/null; then
    echo "$py"
  fi
}

free_port() {
  local py
  py="$(probe_python)"
  "${py:-python3}" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# The pid from STATE/pid if that process is alive and is this STATE_DIR's broker.
broker_pid() {
  local state="$1" pid
  [ -f "$state/pid" ] || return 1
  pid="$(cat "$state/pid")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $state/server.properties" \
    || return 1
  echo "$pid"
}

write_config() {
  local state="$1" port cport
  port="${KAFKA_PORT:-$(free_port)}"
  cport="${KAFKA_CONTROLLER_PORT:-$(free_port)}"
  while [ "$cport" = "$port" ]; do cport="$(free_port)"; done
  cat >"$state/server.properties" <<EOF
# Written by scripts/kafka.sh: a single-node KRaft broker for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$state/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# A broker killed with SIGKILL stays registered until its session times out (default 9 s),
# and its restart waits for that: shorter here, still five missed heartbeats.
broker.session.timeout.ms=5000
broker.heartbeat.interval.ms=1000
# auto.create.topics.enable is left at its default (true) and num.partitions is 3, as on a
# stock broker: fhir-evidence must create its topics itself, whatever the broker allows.
EOF
  echo "127.0.0.1:$port" >"$state/bootstrap"
}

java_cmd() {
  command -v java >/dev/null || die "java not found (Kafka $KAFKA_VERSION needs Java 17+)"
  local major
  major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [ "${major%%.*}" -ge 17 ] 2>/dev/null || die "Kafka $KAFKA_VERSION needs Java 17+, java is $major"
  echo java
}

storage_tool_class() {
  # kafka.tools.StorageTool (Scala, kafka_2.13) or, in versions that moved it, the Java one.
  local jar
  for jar in "$LIBS"/kafka_2.13-*.jar; do
    if grep -aq 'kafka/tools/StorageTool.class' "$jar"; then
      echo kafka.tools.StorageTool
      return
    fi
  done
  echo org.apache.kafka.tools.StorageTool
}

random_cluster_id() {
  # A Kafka Uuid: 16 random bytes, unpadded base64url. Like Kafka's own Uuid.randomUuid, never
  # one starting with '-' (1 in 64): `-t -xyz...` reads as a missing argument to the CLI.
  local id
  id="-"
  while [[ "$id" == -* ]]; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  done
  printf '%s' "$id"
}

bootstrap_answers() {
  local bootstrap="$1" py
  local host="${bootstrap%:*}" port="${bootstrap##*:}"
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null || return 1
  py="$(probe_python)"
  [ -n "$py" ] || return 0
  "$py" - "$bootstrap" <<'EOF' >/dev/null 2>&1
import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient


async def main(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()


asyncio.run(asyncio.wait_for(main(sys.argv[1]), 15))
EOF
}

cmd_start() {
  local state java pid log offset deadline bootstrap
  state="$(state_dir_arg "$@")"
  if pid="$(broker_pid "$state")"; then
    cat "$state/bootstrap"
    return 0
  fi
  java="$(java_cmd)"
  cmd_fetch >/dev/null
  mkdir -p "$state/data" "$state/logs"
  [ -f "$state/server.properties" ] || write_config "$state"
  bootstrap="$(cat "$state/bootstrap")"
  local jvm_opts=(-cp "$LIBS/*" -Djava.awt.headless=true -XX:+ExitOnOutOfMemoryError
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$state/logs")
  if [ ! -f "$state/data/meta.properties" ]; then
    "$java" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "${jvm_opts[@]}" \
      "$(storage_tool_class)" format \
      -t "$(random_cluster_id)" -c "$state/server.properties" >>"$state/logs/format.log" 2>&1 \
      || die "formatting $state/data failed: $(tail -n 20 "$state/logs/format.log")"
  fi
  log="$state/logs/server.log"
  touch "$log"
  offset="$(stat -c %s "$log")"
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS and KAFKA_JVM_OPTS are lists of options
  nohup "$java" ${KAFKA_HEAP_OPTS:--Xms64m -Xmx512m} \
    ${KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1} "${jvm_opts[@]}" \
    kafka.Kafka "$state/server.properties" </dev/null >>"$state/logs/stdout.log" 2>&1 &
  pid=$!
  echo "$pid" >"$state/pid"
  if [ -n "${KAFKA_WATCH_PID:-}" ]; then
    nohup bash "$0" _watch "$state" "$pid" "$KAFKA_WATCH_PID" </dev/null >/dev/null 2>&1 &
  fi
  deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-120}))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$state/pid"
      die "broker exited during start-up; last lines of $log:
$(tail -c +"$((offset + 1))" "$log" | tail -n 30)
$(tail -n 10 "$state/logs/stdout.log")"
    fi
    if tail -c +"$((offset + 1))" "$log" | grep -q "Kafka Server started" \
      && bootstrap_answers "$bootstrap"; then
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      stop_pid "$pid" 10
      rm -f "$state/pid"
      die "broker did not answer within ${KAFKA_START_TIMEOUT:-120}s; see $log"
    fi
    sleep 0.2
  done
  echo "$bootstrap"
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
  if pid="$(broker_pid "$state")"; then
    stop_pid "$pid" "${KAFKA_STOP_TIMEOUT:-30}"
  fi
  rm -f "$state/pid"
}

cmd_kill() {
  local state pid
  state="$(state_dir_arg "$@")"
  if pid="$(broker_pid "$state")"; then
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
  rm -f "$state/pid"
}

cmd_status() {
  local state
  state="$(state_dir_arg "$@")"
  broker_pid "$state" >/dev/null || { echo "not running" >&2; return 1; }
  cat "$state/bootstrap"
}

# Internal: stop broker PID of STATE when WATCHED exits; end quietly when the broker does.
cmd_watch() {
  local state="$1" pid="$2" watched="$3"
  while kill -0 "$watched" 2>/dev/null; do
    [ "$(cat "$state/pid" 2>/dev/null)" = "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    sleep 2
  done
  if [ "$(broker_pid "$state" 2>/dev/null)" = "$pid" ]; then
    stop_pid "$pid" "${KAFKA_STOP_TIMEOUT:-30}"
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
  *) die "usage: kafka.sh fetch | start STATE_DIR | stop STATE_DIR | kill STATE_DIR | status STATE_DIR" ;;
esac
