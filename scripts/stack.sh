#!/usr/bin/env bash
# Runs the whole platform on this machine without Docker: local infrastructure, the four services,
# and the demo seed. Ctrl-C, or SIGINT/SIGTERM to npm or to this script, stops everything it started
# (the services, and the broker when it started it); so does the end of the process that started it.
#   npm run stack                    run in the foreground
#   STACK_SEED=none npm run stack    an empty platform (no demo seed)
#   STACK_SMOKE=1 npm run stack      start, check every service's readiness, stop (used by CI)
# Given KAFKA_BROKERS / DATABASE_URL, it uses them and starts no local infrastructure.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# `npm run stack` execs this script (package.json), so npm's own signal forwarding reaches it; the parent is
# watched too, for a parent that dies without forwarding anything (SIGKILL).
parent=$PPID
local_kafka=""; local_postgres=""
if [ -z "${KAFKA_BROKERS:-}" ]; then local_kafka=1; fi
if [ -z "${DATABASE_URL:-}" ]; then local_postgres=1; fi
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fleetledger}"
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
seed="${STACK_SEED:-demo}"
case "$seed" in demo | none) ;; *) echo "[stack] STACK_SEED must be demo or none (got '$seed')" >&2; exit 2 ;; esac
logs="$repo/.infra/logs"; mkdir -p "$logs"
services=(inventory allocation metering billing)
pids=()

stop() {
  trap '' INT TERM # a second Ctrl-C must not cut the clean-up short
  if [ "${#pids[@]}" -gt 0 ]; then
    echo "[stack] stopping the services" >&2
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  fi
  if [ -n "${started_infra:-}" ]; then bash scripts/infra.sh down; fi
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started_infra=""
if [ -n "$local_kafka" ]; then
  if ! bash infra/kafka/kafka.sh status; then started_infra=1; fi
  bash scripts/infra.sh up
elif [ -n "$local_postgres" ]; then
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "[stack] no PostgreSQL on 127.0.0.1:5432; set DATABASE_URL" >&2; exit 1; }
fi
node scripts/ensure-database.js
[ -f dist/apps/inventory/src/main.js ] && [ -z "${STACK_REBUILD:-}" ] || npm run build

port=3001
for svc in "${services[@]}"; do
  PORT=$port node "dist/apps/$svc/src/main.js" >"$logs/$svc.log" 2>&1 &
  pids+=($!)
  echo "[stack] $svc on http://127.0.0.1:$port (docs /docs, logs .infra/logs/$svc.log)"
  port=$((port + 1))
done

port=3001
for svc in "${services[@]}"; do
  for i in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then echo "[stack] $svc ready"; break; fi
    if [ "$i" = 120 ]; then echo "[stack] $svc not ready after 60 s; see $logs/$svc.log" >&2; tail -20 "$logs/$svc.log" >&2; exit 1; fi
    sleep 0.5
  done
  port=$((port + 1))
done

if [ "$seed" = demo ]; then node dist/scripts/seed-demo.js; else echo "[stack] STACK_SEED=none: no demo data"; fi

if [ -n "${STACK_SMOKE:-}" ]; then echo "[stack] smoke check passed"; exit 0; fi
echo "[stack] running; Ctrl-C to stop"
# Until a signal, a service exits, or the parent goes away. `sleep & wait` keeps the traps prompt.
while kill -0 "$parent" 2>/dev/null; do
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "[stack] ${services[$i]} exited; see $logs/${services[$i]}.log" >&2
      exit 1
    fi
  done
  sleep 1 &
  wait $! || true
done
echo "[stack] the process that started the stack is gone; stopping" >&2
