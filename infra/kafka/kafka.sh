#!/usr/bin/env bash
# Runs a real single-node KRaft Apache Kafka broker from the Maven Central jars (no Docker).
#   infra/kafka/kafka.sh fetch   copy the broker jars listed in pom.xml into infra/kafka/libs
#   infra/kafka/kafka.sh up      fetch if needed, format the log dir once, start, wait until it answers
#   infra/kafka/kafka.sh down    stop the broker started by `up`
#   infra/kafka/kafka.sh status  exit 0 when the broker answers
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_STATE_DIR (<repo>/.infra/kafka),
#              KAFKA_HEAP (512m).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-9093}"
state="${KAFKA_STATE_DIR:-$repo/.infra/kafka}"
heap="${KAFKA_HEAP:-512m}"
pidfile="$state/kafka.pid"

log() { echo "[kafka] $*" >&2; }

fetch() {
  if [ -f "$here/libs/.complete" ]; then return; fi
  log "fetching broker jars from Maven Central (infra/kafka/pom.xml)"
  rm -rf "$here/libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$here/libs"
  touch "$here/libs/.complete"
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

java_cmd=(java -Xms128m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  -Dkafka.logs.dir="$state/logs" -Dlog4j2.configurationFile="$here/log4j2.properties" -cp "$here/libs/*")

up() {
  fetch
  if answers; then log "a broker already answers on 127.0.0.1:$port; using it"; return; fi
  mkdir -p "$state/logs" "$state/data"
  sed -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$controller_port#g" -e "s#@DATA_DIR@#$state/data#g" \
    "$here/server.properties.template" > "$state/server.properties"
  if [ ! -f "$state/data/meta.properties" ]; then
    local cluster_id
    cluster_id="$("${java_cmd[@]}" kafka.tools.StorageTool random-uuid)"
    "${java_cmd[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" --ignore-formatted >/dev/null
    log "formatted $state/data (cluster $cluster_id)"
  fi
  nohup "${java_cmd[@]}" kafka.Kafka "$state/server.properties" >"$state/logs/stdout.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if answers; then log "up on 127.0.0.1:$port (pid $(cat "$pidfile"))"; return; fi
    if ! running; then log "broker exited; see $state/logs"; tail -20 "$state/logs/stdout.log" >&2; exit 1; fi
    sleep 0.5
  done
  log "broker did not answer within 60 s; see $state/logs"; exit 1
}

down() {
  if running; then
    local pid; pid="$(cat "$pidfile")"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped"
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  status) answers ;;
  *) echo "usage: $0 fetch|up|down|status" >&2; exit 2 ;;
esac
