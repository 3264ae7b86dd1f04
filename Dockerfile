# One production image for every twtr process; the command picks the service (docker-compose.yml, k8s/):
#   node dist/router/src/index.js | node dist/subgraphs/<name>/src/index.js | node dist/tools/migrate.js
# TypeScript is compiled in the build stage; the runtime stage has plain node, production dependencies only, no
# compiler, and runs as the unprivileged `node` user.

FROM node:20.19-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY platform ./platform
COPY router ./router
COPY subgraphs ./subgraphs
COPY schema ./schema
COPY migrations ./migrations
COPY tools ./tools
COPY scripts/build.sh ./scripts/build.sh
RUN npm run build

FROM node:20.19-bookworm-slim AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:20.19-bookworm-slim
ENV NODE_ENV=production APOLLO_TELEMETRY_DISABLED=true
WORKDIR /app
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 4000
# Liveness of the service the container runs (probe.js finds it from pid 1's command, and its port: the router's
# operator port, 9400 on the container's loopback); compose probes each service's /readyz, Kubernetes its own probes.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "dist/tools/probe.js"]
CMD ["node", "dist/router/src/index.js"]
