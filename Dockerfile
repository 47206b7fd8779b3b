# syntax=docker/dockerfile:1
# Node 24, the LTS supported longest (to 2028-04-30; 22's support ends 2027-04-30); CI (.ci/run)
# runs the suite on it. Both stages use one Node, so the build runs where the bundle will.
# Build: compile TypeScript and bundle the CLI (scripts/bundle.ts) with the full dependency set.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.ts ./scripts/
COPY scripts/support/prom-client-lean.cjs ./scripts/support/
COPY src ./src
RUN npm run build

# Runtime: the bundle only, non-root, read-only root filesystem friendly. dist/bundle/ holds every
# dependency kollect loads; the few packages it leaves out (pg-native, ws's bufferutil and
# utf-8-validate, node-fetch's encoding) are optional ones that are never installed, so no
# node_modules. package.json stays: its "type": "module" makes bin/kollect and launch.js ESM (the
# rest of the bundle is .cjs). Without KOLLECT_COMPILE_CACHE on a writable volume there is no
# compile cache (HOME is not writable): each run compiles the bundle. The k8s base sets it on the
# Git mirror's volume.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=build /app/dist/bundle ./dist/bundle
COPY bin ./bin
USER 10001:10001
ENTRYPOINT ["node", "/app/bin/kollect"]
CMD ["--help"]
