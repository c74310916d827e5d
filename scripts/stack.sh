#!/usr/bin/env bash
# Runs the whole platform on this machine without Docker: local infrastructure, the four services,
# and the demo seed. Ctrl-C, or SIGINT/SIGTERM to npm or to this script, stops everything it started
# (the services, and the broker when it started it); so does the end of the process that started it.
#   npm run stack                    run in the foreground
#   STACK_SEED=none npm run stack    an empty platform (no demo seed)
#   STACK_SMOKE=1 npm run stack      start, check every service's readiness, stop (used by CI)
#   STACK_PORT_BASE=4001 npm run stack   the four services on 4001-4004 instead of 3001-3004
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
# The administrator's URL: it creates the database and provisions the roles; no service connects with it.
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
  revoke_prefix_acls
  if [ -n "${started_infra:-}" ]; then bash scripts/infra.sh down; fi
}

# `infra.sh up` granted the Kafka ACLs of KAFKA_TOPIC_PREFIX; a prefixed stack (a test's) takes them back.
revoke_prefix_acls() {
  if [ -z "${KAFKA_TOPIC_PREFIX:-}" ] || [ ! -f "${credentials:-}" ] || [ -n "${KAFKA_SASL_USERNAME:-}" ]; then return; fi
  local list; list="$(mktemp)"
  echo "$KAFKA_TOPIC_PREFIX" >"$list"
  KAFKA_CREDENTIALS_FILE="$credentials" node -r @swc-node/register scripts/kafka-acls.ts \
    --revoke-prefixes-from "$list" || true
  rm -f "$list"
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
[ -f dist/apps/inventory/src/main.js ] && [ -f dist/scripts/db-provision.js ] && [ -z "${STACK_REBUILD:-}" ] || npm run build

# Least privilege (docs/deploy.md, "Database roles"): each service connects and migrates as its own role.
# Passwords are generated once into .infra/db-passwords.env (gitignored); the roles' URLs, the audit's
# included, are written to .infra/database-urls.env for `source` (e.g. DATABASE_URL=$AUDIT_DATABASE_URL).
(umask 077; DATABASE_ADMIN_URL="$DATABASE_URL" FLEETLEDGER_DB_PASSWORDS="$repo/.infra/db-passwords.env" \
  node dist/scripts/db-provision.js --generate-missing --print-env >"$repo/.infra/database-urls.env")
# shellcheck source=/dev/null
source "$repo/.infra/database-urls.env"

# Callers authenticate with bearer JWTs of the local dev issuer (its keys under .infra/auth, made once).
node dist/scripts/dev-issuer.js ensure >/dev/null
export AUTH_ISSUER=fleetledger-dev AUTH_JWKS_FILE="$repo/.infra/auth/jwks.json"
# Issue #22: the local stack plays stories stamped in the past (the demo seeds an hour back) or ahead of the clock
# (Colossus simulates a month): allocation's watermark follows its own decisions, not the wall clock, and metering
# closes on the lateness alone, as in docker-compose.yml; k8s/ runs the defaults. Either can be overridden.
export ALLOCATION_WATERMARK_FOLLOWS_CLOCK="${ALLOCATION_WATERMARK_FOLLOWS_CLOCK:-false}"
export METERING_PLACEMENT_WATERMARK="${METERING_PLACEMENT_WATERMARK:-ignored}"
# Inventory publishes no watermark (its commands may be stamped in the past) and billing does not wait for it.
export INVENTORY_WATERMARK_INTERVAL_MS="${INVENTORY_WATERMARK_INTERVAL_MS:-0}"
export BILLING_INVENTORY_WATERMARK="${BILLING_INVENTORY_WATERMARK:-ignored}"
token() { node dist/scripts/dev-issuer.js mint "$@"; }

# Each service runs as its own Kafka SCRAM user (docs/deploy.md, "Kafka security"), from the credentials the
# local broker's `up` generated, unless KAFKA_SASL_* are given (then every service uses those).
credentials="${KAFKA_CREDENTIALS_FILE:-${KAFKA_STATE_DIR:-$repo/.infra/kafka}/credentials.env}"
# A broker we did not start (KAFKA_BROKERS given): grant this deployment prefix's ACLs ourselves (idempotent;
# `infra.sh up` does it for the local broker). Needs the admin line of the credentials file.
if [ -z "$local_kafka" ] && [ -f "$credentials" ] && grep -q '^KAFKA_PASSWORD_ADMIN=' "$credentials"; then
  KAFKA_CREDENTIALS_FILE="$credentials" node -r @swc-node/register scripts/kafka-acls.ts >/dev/null
fi
kafka_user_env() {
  if [ -n "${KAFKA_SASL_USERNAME:-}" ] || [ ! -f "$credentials" ]; then return; fi
  echo "KAFKA_SASL_MECHANISM=$(sed -n 's/^KAFKA_SASL_MECHANISM=//p' "$credentials")"
  echo "KAFKA_SASL_USERNAME=$1"
  echo "KAFKA_SASL_PASSWORD=$(sed -n "s/^KAFKA_PASSWORD_${1^^}=//p" "$credentials")"
  grep '^KAFKA_SSL' "$credentials" || true
}

port="${STACK_PORT_BASE:-3001}"
for svc in "${services[@]}"; do
  url_var="${svc^^}_DATABASE_URL"
  mapfile -t kafka_env < <(kafka_user_env "$svc")
  env "${kafka_env[@]}" AUTH_AUDIENCE="fleetledger-$svc" DATABASE_URL="${!url_var}" PORT=$port \
    node "dist/apps/$svc/src/main.js" >"$logs/$svc.log" 2>&1 &
  pids+=($!)
  echo "[stack] $svc on http://127.0.0.1:$port (docs /docs, logs .infra/logs/$svc.log)"
  port=$((port + 1))
done

port="${STACK_PORT_BASE:-3001}"
for svc in "${services[@]}"; do
  for i in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then echo "[stack] $svc ready"; break; fi
    if [ "$i" = 120 ]; then echo "[stack] $svc not ready after 60 s; see $logs/$svc.log" >&2; tail -20 "$logs/$svc.log" >&2; exit 1; fi
    sleep 0.5
  done
  port=$((port + 1))
done

if [ "$seed" = demo ]; then
  base="${STACK_PORT_BASE:-3001}"
  SEED_TOKEN="$(token --role operator finance telemetry-agent --subject demo-seed)" \
    INVENTORY_URL="http://127.0.0.1:$base" ALLOCATION_URL="http://127.0.0.1:$((base + 1))" \
    METERING_URL="http://127.0.0.1:$((base + 2))" BILLING_URL="http://127.0.0.1:$((base + 3))" \
    node dist/scripts/seed-demo.js
else
  echo "[stack] STACK_SEED=none: no demo data"
fi

cat <<EOF
[stack] every route but /health and /metrics needs a bearer token of the local issuer; mint one per role:
[stack]   npm run -s token -- --role operator
[stack]   npm run -s token -- --role tenant --tenant acme
[stack]   npm run -s token -- --role finance            (also: telemetry-agent, service; --help for more)
[stack]   curl -H "authorization: Bearer \$(npm run -s token -- --role operator)" http://127.0.0.1:3002/leases
EOF

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
