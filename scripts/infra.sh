#!/usr/bin/env bash
# Local infrastructure without Docker (DESIGN.md section 5):
#   up    make sure PostgreSQL answers on 127.0.0.1:5432 and start the local KRaft Kafka broker
#   down  stop the local Kafka broker (PostgreSQL is the machine's and is left running)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

postgres_up() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "[postgres] starting the machine's cluster" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sed -n 1p)" main start
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 1; done
  echo "[postgres] no server answers on 127.0.0.1:5432; set DATABASE_URL to one that does" >&2
  exit 1
}

case "${1:-}" in
  up)
    postgres_up
    "$repo/infra/kafka/kafka.sh" up
    # The local token issuer the services trust (keys under .infra/auth, never committed).
    (cd "$repo" && node -r @swc-node/register scripts/dev-issuer.ts ensure >/dev/null)
    ;;
  down) "$repo/infra/kafka/kafka.sh" down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
