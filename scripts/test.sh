#!/usr/bin/env bash
# The one test command (npm test): static checks, then every test tier.
# Integration tests need a real Kafka broker and a real PostgreSQL: with KAFKA_BROKERS / DATABASE_URL
# unset, jest's global setup starts them (containers through testcontainers when an engine answers, else
# scripts/infra.sh) and stops what it started afterwards (libs/testing/src/infrastructure.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export KAFKAJS_LOG_LEVEL="${KAFKAJS_LOG_LEVEL:-nothing}"
export TEST_LOG_LEVEL="${TEST_LOG_LEVEL:-warn}"

echo "== typecheck"; npx tsc -p tsconfig.json --noEmit
echo "== lint";      npx eslint . --max-warnings=0
echo "== format";    npx prettier --check . --log-level warn
echo "== tests (unit, then integration against real Kafka + PostgreSQL)"
npx jest --maxWorkers=2 "$@"
