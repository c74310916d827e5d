#!/bin/bash
# kafka-consumer-groups.sh, as in Kafka's bin/.
exec kafka-run-class.sh org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@"
