#!/bin/sh
# Chooses the service: first argument (inventory|allocation|metering|billing) or $SERVICE.
# Anything else that is not a flag is run as a command (e.g. `node dist/scripts/seed-demo.js`).
set -eu
case "${1:-}" in
  inventory|allocation|metering|billing) SERVICE="$1"; shift ;;
  -*|'') ;;
  *) exec "$@" ;;
esac
case "${SERVICE:-}" in
  inventory|allocation|metering|billing) ;;
  *) echo "fleetledger: set SERVICE to inventory, allocation, metering or billing (got '${SERVICE:-}')" >&2; exit 64 ;;
esac
exec node "dist/apps/${SERVICE}/src/main.js" "$@"
