# One image for the four FleetLedger services. The service is chosen at start:
#   docker run -e SERVICE=billing fleetledger            (or: docker run fleetledger billing)
#   docker run -e SERVICE=billing fleetledger --migrate-only
#   docker run fleetledger node dist/scripts/seed-demo.js   (any other command runs as given)
# The base is configurable: machines without a registry build on a local image carrying the same Node 20
# (scripts/images.sh: --build-arg NODE_IMAGE=localhost/fleetledger-node:20).
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: full dependency tree, TypeScript -> dist/ ------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# ---- prod-deps: runtime dependencies only ------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime -----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini is PID 1: it forwards SIGTERM to node (Nest's shutdown hooks then drain the in-flight batch,
# commit offsets and close the pool) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 fleetledger \
 && useradd --system --uid 10001 --gid fleetledger --no-create-home --shell /usr/sbin/nologin fleetledger

WORKDIR /app
ENV NODE_ENV=production \
    PORT=3000

# Code and dependencies stay owned by root: the service user can read them, never rewrite them.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./

# The entrypoint is a file (not a heredoc) so that every builder reads this Dockerfile: podman/buildah 1.28
# (Debian 12) and BuildKit alike.
COPY --chmod=0755 scripts/container-entrypoint.sh /usr/local/bin/fleetledger

USER 10001:10001
EXPOSE 3000
# Liveness of the process; orchestrators use their own probes (compose and k8s check /health/ready).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/fleetledger"]
CMD []
