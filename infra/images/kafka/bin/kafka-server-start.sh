#!/bin/bash
# kafka-server-start.sh server.properties: the broker in the foreground, logging to stdout.
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties}"
# The class archive made while the image was built (train-class-archive) makes the start faster; a JVM that cannot
# use it (other classpath, other JDK) says so and goes on without it.
cds=""
if [ -n "${CDS_ARCHIVE_AT_EXIT:-}" ]; then cds="-XX:ArchiveClassesAtExit=$CDS_ARCHIVE_AT_EXIT"
elif [ -f /opt/kafka/kafka.jsa ]; then cds="-XX:SharedArchiveFile=/opt/kafka/kafka.jsa -Xlog:cds=off -Xlog:cds+dynamic=off"; fi
export KAFKA_JVM_PERFORMANCE_OPTS="${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true $cds}"
exec kafka-run-class.sh kafka.Kafka "$@"
