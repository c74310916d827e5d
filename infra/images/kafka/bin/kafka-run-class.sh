#!/bin/bash
# kafka-run-class.sh <main class> [args]: the JVM launcher behind the other scripts (as in Kafka's bin/).
set -euo pipefail
class="$1"; shift
heap="${KAFKA_HEAP_OPTS:--Xmx256m}"
log4j="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties}"
# shellcheck disable=SC2086
exec java $heap ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true} \
  $log4j ${KAFKA_OPTS:-} -cp "/opt/kafka/libs/*" "$class" "$@"
