#!/bin/bash
# kafka-storage.sh, as in Kafka's bin/.
exec kafka-run-class.sh kafka.tools.StorageTool "$@"
