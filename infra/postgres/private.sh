#!/usr/bin/env bash
# A private PostgreSQL server for the fault suite, so that it can restart PostgreSQL without touching the
# machine's shared server on 5432: its own data dir (initdb), its own port, trust auth on loopback only.
#
#   infra/postgres/private.sh up        initdb once, start, wait until it answers
#   infra/postgres/private.sh restart   `pg_ctl restart -m fast`: every connection is cut (the fault)
#   infra/postgres/private.sh down      stop (fast);  destroy: down and remove the data dir
#   infra/postgres/private.sh url       print the superuser URL
#
# Environment: PRIVATE_PG_PORT (55432), PRIVATE_PG_DIR (/var/tmp/fleetledger-pg-<port>), PRIVATE_PG_BIN
# (the newest /usr/lib/postgresql/*/bin). PostgreSQL refuses to run as root: as root, the server runs as
# the `postgres` system user (which owns the data dir).
set -euo pipefail
port="${PRIVATE_PG_PORT:-55432}"
dir="${PRIVATE_PG_DIR:-/var/tmp/fleetledger-pg-$port}"
bin="${PRIVATE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$bin/pg_ctl" ] || { echo "[private-pg] no PostgreSQL server binaries (PRIVATE_PG_BIN)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_ctl() { as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 "$@"; }
answers() { "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; }

up() {
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
    # Small and fast: loopback only, no fsync (test data), enough connections for four services' pools.
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  fi
  if answers; then return; fi
  pg_ctl start >/dev/null
  echo "[private-pg] up on 127.0.0.1:$port ($dir)" >&2
}

case "${1:-}" in
  up) up ;;
  down) if [ -f "$dir/data/postmaster.pid" ]; then pg_ctl stop -m fast >/dev/null || true; fi ;;
  destroy) if [ -f "$dir/data/postmaster.pid" ]; then pg_ctl stop -m fast >/dev/null || true; fi; rm -rf "$dir" ;;
  restart) pg_ctl restart -m fast >/dev/null ;;
  status) answers ;;
  url) echo "postgres://postgres@127.0.0.1:$port/postgres" ;;
  *) echo "usage: $0 up|down|destroy|restart|status|url" >&2; exit 2 ;;
esac
