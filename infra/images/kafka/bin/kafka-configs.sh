#!/bin/bash
# kafka-configs.sh, as in Kafka's bin/.
exec kafka-run-class.sh kafka.admin.ConfigCommand "$@"
