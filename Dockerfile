# One image with all three services: scc-state, scc-broker and scc-worker. Each Kubernetes Deployment
# picks its service with `workingDir: /app/packages/<service>` and `command: ["node", "server"]`.
#
#   docker build -t scc-ts:1.0.0 .
#   docker build --build-arg NODE_IMAGE=<a node:20-bookworm-slim-compatible image> -t scc-ts:1.0.0 .
#
# Behind a TLS-intercepting proxy, hand npm/pnpm the proxy's CA bundle as a build secret (BuildKit);
# it is mounted only while the install steps run and never stored in a layer:
#
#   DOCKER_BUILDKIT=1 docker build --secret id=npm_ca,src="$NODE_EXTRA_CA_CERTS" -t scc-ts:1.0.0 .
#
# Stages: `build` compiles the TypeScript with every dependency; `prod-deps` installs production
# dependencies only (no scripts: the root `prepare` runs tsc, which is not there); `runtime` is the
# production-dependency tree plus each package's server.js, compiled JavaScript (no source or
# declaration maps, no .d.ts: nothing compiles against the image) and public/, run as the non-root
# `node` user (uid 1000). pnpm exists only in the build stages. test/kubernetes/image.test.ts replays
# prod-deps and runtime's COPY lines into a temporary folder and starts every service from it;
# `pnpm image:test` (test/kubernetes/docker-image.test.ts) builds it with docker and runs the cluster.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS pnpm
# The secret `npm_ca` (optional) is a CA bundle for a TLS-intercepting proxy; without it the mount is
# empty and npm/pnpm trust the usual roots.
ENV NPM_CA_SECRET=/run/secrets/npm_ca
# The version in package.json's packageManager field.
RUN --mount=type=secret,id=npm_ca \
    if [ -s "$NPM_CA_SECRET" ]; then export NODE_EXTRA_CA_CERTS="$NPM_CA_SECRET"; fi; \
    npm install -g pnpm@10.34.9 && npm cache clean --force
WORKDIR /app
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY packages/shared/package.json packages/shared/
COPY packages/scc-state/package.json packages/scc-state/
COPY packages/scc-broker/package.json packages/scc-broker/
COPY packages/scc-worker/package.json packages/scc-worker/
COPY packages/scc-history-client/package.json packages/scc-history-client/

FROM pnpm AS build
RUN --mount=type=secret,id=npm_ca \
    if [ -s "$NPM_CA_SECRET" ]; then export NODE_EXTRA_CA_CERTS="$NPM_CA_SECRET"; fi; \
    pnpm install --frozen-lockfile --ignore-scripts
COPY tsconfig.base.json tsconfig.json ./
COPY packages ./packages
# Maps and declarations serve editors and debuggers of the sources, which the image does not hold.
RUN pnpm run build && find packages/*/dist \( -name '*.map' -o -name '*.d.ts' -o -name '.tsbuildinfo' \) -delete

FROM pnpm AS prod-deps
RUN --mount=type=secret,id=npm_ca \
    if [ -s "$NPM_CA_SECRET" ]; then export NODE_EXTRA_CA_CERTS="$NPM_CA_SECRET"; fi; \
    pnpm install --prod --frozen-lockfile --ignore-scripts

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app ./
COPY --from=build /app/packages/shared/dist packages/shared/dist
COPY --from=build /app/packages/scc-history-client/dist packages/scc-history-client/dist
COPY --from=build /app/packages/scc-state/server.js packages/scc-state/
COPY --from=build /app/packages/scc-state/dist packages/scc-state/dist
COPY --from=build /app/packages/scc-broker/server.js packages/scc-broker/
COPY --from=build /app/packages/scc-broker/dist packages/scc-broker/dist
COPY --from=build /app/packages/scc-worker/server.js packages/scc-worker/
COPY --from=build /app/packages/scc-worker/dist packages/scc-worker/dist
COPY --from=build /app/packages/scc-worker/public packages/scc-worker/public
# Files stay owned by root and read-only to the service; the manifests also make the root filesystem read-only.
USER 1000:1000
WORKDIR /app/packages/scc-worker
# The services' ports, then their health ports (SCC_HEALTH_PORT in the manifests).
EXPOSE 7777 8888 8000 7778 8889 8001
CMD ["node", "server"]
