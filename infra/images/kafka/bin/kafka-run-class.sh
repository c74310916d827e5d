#!/bin/bash
# kafka-run-class.sh <main class> [args]: the JVM launcher behind the other scripts (as in Kafka's bin/).
# Tools are short-lived: by default they skip the optimising JIT and use the serial collector, which starts
# them faster; kafka-server-start.sh sets the broker's own options.
set -euo pipefail
class="$1"; shift
heap="${KAFKA_HEAP_OPTS:--Xmx256m}"
log4j="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties}"
performance="${KAFKA_JVM_PERFORMANCE_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto -Djava.awt.headless=true}"
# shellcheck disable=SC2086
exec java $heap $performance $log4j ${KAFKA_OPTS:-} -cp "/opt/kafka/libs/*" "$class" "$@"
