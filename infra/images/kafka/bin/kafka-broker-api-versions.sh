#!/bin/bash
# kafka-broker-api-versions.sh, as in Kafka's bin/.
exec kafka-run-class.sh org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
