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
# shellcheck source=scripts/lib/servers.sh
. "$HERE/lib/servers.sh"
ROOT="$(cd "$HERE/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_HOME="$CACHE_ROOT/kafka-$KAFKA_VERSION"
LIBS="$KAFKA_HOME/libs"
MARKER="$KAFKA_HOME/libs.complete"
POM="$HERE/kafka/pom.xml"
LOG4J_CONFIG="$HERE/kafka/log4j2.properties"
PID_FILE=pid
ADDRESS_FILE=bootstrap
SERVER_NOUN=broker
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

# --- fetch ---------------------------------------------------------------------------------

fetch_key() {
  # What the libs dir was resolved from: a changed pom or version means fetch again.
  echo "kafka_2.13:$KAFKA_VERSION pom:$(sha256 <"$POM")"
}

libs_complete() {
  marker_says "$MARKER" "$(fetch_key)"
}

cmd_fetch() {
  fetch_once "$KAFKA_HOME" libs_complete resolve_libs
  echo "$LIBS"
}

resolve_libs() {
  local tmp="$KAFKA_HOME/libs.tmp.$$"
  need_command mvn "apt-get install maven"
  rm -rf "$tmp"
  say "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central"
  maven_build "$tmp" dependency:copy-dependencies -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
    -DincludeScope=runtime -DoutputDirectory="$tmp"
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || die "no kafka_2.13-$KAFKA_VERSION.jar in $tmp"
  rm -rf "$LIBS" "$MARKER"
  mv "$tmp" "$LIBS"
  write_marker "$MARKER" "$(fetch_key)" "$LIBS"
}

# --- broker --------------------------------------------------------------------------------

probe_python() {
  local py="${KAFKA_PROBE_PYTHON:-$ROOT/.venv/bin/python}"
  if [ -x "$py" ] && "$py" -c "import aiokafka" 2>/dev/null; then
    echo "$py"
  fi
}

# This STATE_DIR's broker: the pid in STATE/pid, alive, running its server.properties.
server_pid() {
  recorded_pid "$1" "kafka.Kafka $1/server.properties"
}

write_config() {
  local state="$1" port cport py
  py="$(probe_python)"
  port="${KAFKA_PORT:-$(free_port "$py")}"
  cport="${KAFKA_CONTROLLER_PORT:-$(free_port "$py")}"
  [ "$cport" != "$port" ] || cport="$(free_port_besides "$port" "$py")"
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
  require_java java 17 "Kafka $KAFKA_VERSION"
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

# The broker logged that it started and answers requests.
broker_ready() {
  log_since_start | grep -q "Kafka Server started" && bootstrap_answers "$1"
}

# A failed start shows its stdout too: what the JVM said before log4j was set up.
startup_lines() {
  log_since_start | tail -n 30
  tail -n 10 "$(dirname "$START_LOG")/stdout.log"
}

cmd_start() {
  local state java pid bootstrap
  state="$(state_dir_arg "$@")"
  running_address "$state" && return 0
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
  begin_log "$state/logs/server.log"
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS and KAFKA_JVM_OPTS are lists of options
  nohup "$java" ${KAFKA_HEAP_OPTS:--Xms64m -Xmx512m} \
    ${KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1} "${jvm_opts[@]}" \
    kafka.Kafka "$state/server.properties" </dev/null >>"$state/logs/stdout.log" 2>&1 &
  pid=$!
  record_server "$state" "$pid" "${KAFKA_WATCH_PID:-}"
  await_ready "$state" "$pid" "${KAFKA_START_TIMEOUT:-120}" 0.2 broker_ready "$bootstrap"
  echo "$bootstrap"
}

main "fetch start stop kill status _watch" \
  "fetch | start STATE_DIR | stop STATE_DIR | kill STATE_DIR | status STATE_DIR" "$@"
