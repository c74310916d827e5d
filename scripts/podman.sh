#!/usr/bin/env bash
# podman as this project's container engine on machines without Docker (../shared/CONTAINERS.md):
#   scripts/podman.sh install   apt-get podman, runc, debootstrap and docker-compose (skipped when present)
#   scripts/podman.sh configure runc and ulimits that root without CAP_SYS_RESOURCE can apply
#   scripts/podman.sh start     start the Docker-compatible API on $PODMAN_SOCKET (no systemd here)
#   scripts/podman.sh stop      stop the API service started by `start`
#   scripts/podman.sh clean     remove every container (and network) labelled fleetledger.run=<FLEETLEDGER_RUN_ID>,
#                               or every fleetledger.run-labelled one when FLEETLEDGER_RUN_ID is unset
# Prints nothing on stdout except `env` lines for `start` (DOCKER_HOST=...), so callers can eval it.
set -euo pipefail
socket="${PODMAN_SOCKET:-/run/podman/podman.sock}"
pidfile="$(dirname "$socket")/fleetledger-podman-service.pid"
log() { echo "[podman] $*" >&2; }

install() {
  if command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null \
    && command -v docker-compose >/dev/null; then return; fi
  log "installing podman, runc, debootstrap, docker-compose (Debian packages)"
  # Waits for dpkg's lock rather than failing when another apt-get runs on the machine.
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq podman runc debootstrap docker-compose >/dev/null
}

configure() {
  # crun refuses this machine's hybrid cgroups; root lacks CAP_SYS_RESOURCE, so podman's default ulimits
  # cannot be applied, and a process limit above pid_max is refused. Both limits are needed.
  local conf=/etc/containers/containers.conf
  if [ -f "$conf" ] && grep -q 'fleetledger' "$conf"; then return; fi
  if [ -f "$conf" ]; then cp "$conf" "$conf.before-fleetledger"; fi
  mkdir -p /etc/containers
  cat >"$conf" <<'CONF'
# written by fleetledger scripts/podman.sh (see CONTAINERS.md)
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
  log "wrote $conf"
}

answers() { curl -fsS --max-time 2 --unix-socket "$socket" http://d/_ping >/dev/null 2>&1; }

start() {
  if ! answers; then
    mkdir -p "$(dirname "$socket")"
    nohup podman system service --time=0 "unix://$socket" >"$(dirname "$socket")/fleetledger-podman-service.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 50); do answers && break; sleep 0.2; done
    answers || { log "the API service did not answer on $socket"; exit 1; }
    log "API service on unix://$socket (pid $(cat "$pidfile"))"
  fi
  echo "DOCKER_HOST=unix://$socket"
}

stop() {
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
    log "API service stopped"
  fi
}

clean() {
  local filter="label=fleetledger.run"
  if [ -n "${FLEETLEDGER_RUN_ID:-}" ]; then filter="label=fleetledger.run=$FLEETLEDGER_RUN_ID"; fi
  local ids
  ids="$(podman ps -aq --filter "$filter" || true)"
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    podman rm -f -v -t 2 $ids >/dev/null 2>&1 || true
    log "removed $(echo "$ids" | wc -l) container(s) ($filter)"
  fi
  ids="$(podman network ls -q --filter "$filter" 2>/dev/null || true)"
  # shellcheck disable=SC2086
  if [ -n "$ids" ]; then podman network rm -f $ids >/dev/null 2>&1 || true; fi
}

case "${1:-}" in
  install) install ;;
  configure) configure ;;
  start) start ;;
  stop) stop ;;
  clean) clean ;;
  *) echo "usage: $0 install|configure|start|stop|clean" >&2; exit 2 ;;
esac
