# Warden's container image: `warden agent` (default) or any other command
# (`pack serve DIR --listen 0.0.0.0:8282`), with the pinned opa built from source.
#
#   docker build -t warden:0.1.0 .
#   docker run --read-only --tmpfs /tmp -v warden-data:/var/lib/warden \
#     -v "$PWD/agent.yaml:/etc/warden/config.yaml:ro" -p 8181:8181 warden:0.1.0
#
# Runs as uid/gid 10001 with a read-only root filesystem: the only writable places are
# the data volume (/var/lib/warden: store, LOCK, decision log, OPA's run files) and /tmp
# (opa build's staging for directory sources). test/deploy/dockerfile.test.ts runs the
# build steps that need neither the network nor a base image.

ARG NODE_IMAGE=node:20-bookworm-slim
ARG GO_IMAGE=golang:1.26-bookworm

# opa, built as scripts/install-tools.mjs builds it: the pinned version
# (package.json config.opaVersion) with its wasm engine (tag opa_wasm, cgo: glibc).
FROM ${GO_IMAGE} AS opa
ARG OPA_VERSION=1.22.2
RUN GOBIN=/out go install -tags opa_wasm github.com/open-policy-agent/opa@v${OPA_VERSION}
RUN /out/opa version | grep -q "^Version: ${OPA_VERSION}$" && /out/opa version | grep -q "^WebAssembly: available"

# Production dependencies only (no install scripts: `prepare` would compile the sources).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts

# dist/: every dependency for the compiler, then the build.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    WARDEN_OPA=/usr/local/bin/opa \
    HOME=/tmp
WORKDIR /app
COPY --from=opa /out/opa /usr/local/bin/opa
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
RUN groupadd --system --gid 10001 warden \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/warden --shell /usr/sbin/nologin warden \
 && mkdir -p /var/lib/warden /etc/warden \
 && chown 10001:10001 /var/lib/warden
USER 10001:10001
VOLUME ["/var/lib/warden"]
EXPOSE 8181
ENTRYPOINT ["node", "/app/bin/warden.js"]
CMD ["agent", "--config", "/etc/warden/config.yaml"]
