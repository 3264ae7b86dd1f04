# One image for every twtr process; the command picks the service (see docker-compose.yml and k8s/).
FROM node:20.19-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production APOLLO_TELEMETRY_DISABLED=true
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY router ./router
COPY platform ./platform
COPY subgraphs ./subgraphs
COPY schema ./schema
COPY migrations ./migrations
COPY scripts/migrate.ts ./scripts/migrate.ts
USER node
CMD ["node", "--import", "tsx", "router/src/index.ts"]
