#!/usr/bin/env bash
# Builds, without any container registry, local images that honour the official images' contracts for what
# this project uses (see ../shared/CONTAINERS.md and infra/images/README.md):
#   localhost/fleetledger-debian:bookworm  debootstrap minbase from the machine's own Debian mirror
#   localhost/fleetledger-postgres:15      like the official postgres image (POSTGRES_USER/PASSWORD/DB, the ready log line)
#   localhost/fleetledger-kafka:4.1.1      like apache/kafka:4.1.1 (KAFKA_* environment -> server.properties)
#   localhost/fleetledger-node:20          the machine's Node 20 binary, base for the product Dockerfile
#
#   scripts/images.sh [all|base|postgres|kafka|node]...   build what is missing
#     IMAGES_REBUILD="node kafka" (or all): rebuild those even when present
#   scripts/images.sh env                                   print KAFKA_IMAGE=... POSTGRES_IMAGE=... NODE_IMAGE=...
# Each build prints its duration as `[images] built <image> in <n> s`.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$repo/infra/images"
base_image=localhost/fleetledger-debian:bookworm
postgres_image=localhost/fleetledger-postgres:15 # Debian bookworm ships PostgreSQL 15
kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$repo/infra/kafka/pom.xml")"
kafka_image="localhost/fleetledger-kafka:$kafka_version"
node_image="localhost/fleetledger-node:$(node -p 'process.versions.node.split(".")[0]')"
log() { echo "[images] $*" >&2; }
scratch=""  # the temporary directory of the build under way, removed however the script ends
done_with_scratch() { if [ -n "$scratch" ]; then rm -rf "$scratch"; fi; scratch=""; }
trap done_with_scratch EXIT

rebuild=" ${IMAGES_REBUILD:-} "
present() { # present <target> <image>
  case "$rebuild" in *" all "* | *" $1 "*) return 1 ;; esac
  podman image exists "$2"
}

timed() { # timed <image> <command...>
  local image="$1" started; shift
  started=$(date +%s)
  "$@"
  log "built $image in $(( $(date +%s) - started )) s"
}

# The machine's Debian mirror, read at run time (never written into the repository).
debian_mirror() {
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    uri="$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources | grep -v -- '-security' | sed -n 1p)"
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri="$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)"
  fi
  [ -n "$uri" ] || { log "no Debian mirror found in /etc/apt/sources.list.d or /etc/apt/sources.list"; exit 1; }
  echo "$uri"
}

build_base() {
  present base "$base_image" && return
  local mirror; mirror="$(debian_mirror)"
  scratch="$(mktemp -d /var/tmp/fleetledger-debootstrap.XXXXXX)"
  log "debootstrap bookworm (minbase) from the machine's mirror"
  debootstrap --variant=minbase bookworm "$scratch" "$mirror" >/dev/null
  rm -rf "$scratch"/var/cache/apt/archives/*.deb "$scratch"/var/lib/apt/lists/*
  # apt inside later builds uses the mirror the machine itself uses; nothing of it is committed.
  tar -C "$scratch" -c . | podman import -q --change 'CMD ["/bin/bash"]' - "$base_image" >/dev/null
  done_with_scratch
}

build_postgres() {
  present postgres "$postgres_image" && return
  podman build -q --build-arg "BASE=$base_image" -t "$postgres_image" "$here/postgres" >/dev/null
}

build_kafka() {
  present kafka "$kafka_image" && return
  scratch="$(mktemp -d /var/tmp/fleetledger-kafka-image.XXXXXX)"; local context="$scratch"
  cp -r "$here/kafka/." "$context/"
  log "copying Kafka $kafka_version broker and tool jars from Maven Central"
  mvn -q -B -Dstyle.color=never -f "$repo/infra/kafka/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$context/libs" >/dev/null
  mvn -q -B -Dstyle.color=never -f "$here/kafka/tools-pom.xml" -Dkafka.version="$kafka_version" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$context/libs" >/dev/null
  podman build -q --build-arg "BASE=$base_image" -t "$kafka_image" "$context" >/dev/null
  done_with_scratch
}

build_node() {
  present node "$node_image" && return
  scratch="$(mktemp -d /var/tmp/fleetledger-node-image.XXXXXX)"; local context="$scratch"
  local node_bin npm_dir
  node_bin="$(readlink -f "$(command -v node)")"
  npm_dir="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)"
  cp "$node_bin" "$context/node"
  cp -r "$npm_dir" "$context/npm"
  # The machine's trust store: npm inside builds then trusts what npm on the machine trusts (a TLS-inspecting
  # egress proxy's CA, for one). Built locally, never pushed.
  cp /etc/ssl/certs/ca-certificates.crt "$context/ca-certificates.crt"
  cp "$here/node/Containerfile" "$context/"
  podman build -q --build-arg "BASE=$base_image" -t "$node_image" "$context" >/dev/null
  done_with_scratch
}

build() {
  case "$1" in
    base) present base "$base_image" || timed "$base_image" build_base ;;
    postgres) build base; present postgres "$postgres_image" || timed "$postgres_image" build_postgres ;;
    kafka) build base; present kafka "$kafka_image" || timed "$kafka_image" build_kafka ;;
    node) build base; present node "$node_image" || timed "$node_image" build_node ;;
    all) build base; build postgres; build kafka; build node ;;
    *) echo "usage: $0 [all|base|postgres|kafka|node|env]..." >&2; exit 2 ;;
  esac
}

if [ "${1:-}" = env ]; then
  echo "KAFKA_IMAGE=$kafka_image"
  echo "POSTGRES_IMAGE=$postgres_image"
  echo "NODE_IMAGE=$node_image"
  exit 0
fi
for target in "${@:-all}"; do build "$target"; done
