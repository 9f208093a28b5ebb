# The gateway image: the same sources `npm start` runs (TypeScript through tsx, no build step for
# the server). Also runs the edge agent (`iocgw edge`) and the dashboards commands.

# The operator console's static files, built by Vite (a devDependency) in a stage of its own so
# the image keeps production dependencies only (docs/console.md).
FROM node:20-bookworm-slim AS console
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts
COPY gateway/console gateway/console
RUN npm run build:console

FROM node:20-bookworm-slim

# Compilers for native modules that have no prebuilt binary for the platform (better-sqlite3
# falls back to node-gyp); ffmpeg for camera capture in the edge agent.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so source edits do not reinstall them. .npmrc skips onnxruntime's optional
# GPU download. (The console is not built here: its sources are not copied yet; see the stage above.)
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev && npm cache clean --force

COPY . .
COPY --from=console /app/gateway/console/dist gateway/console/dist

# Writable places for the unprivileged user: the gateway's data, model files, the edge queue.
RUN mkdir -p /data /models /app/config/edge-data \
 && chown -R node:node /data /models /app/config/edge-data
USER node

ENV NODE_ENV=production \
    IOC_DATA_DIR=/data \
    IOC_MODELS_DIR=/models \
    IOC_HTTP_PORT=8080 \
    IOC_MQTT_PORT=1883 \
    IOC_MQTT_WS_PORT=8083

EXPOSE 8080 1883 8083

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.IOC_HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"

CMD ["npm", "start"]
