#!/bin/bash
# kafka-topics.sh, as in Kafka's bin/.
exec kafka-run-class.sh org.apache.kafka.tools.TopicCommand "$@"
