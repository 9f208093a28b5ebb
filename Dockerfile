# The gateway image: the gateway compiled (build/, `npm run build`) next to its sources, which
# `npm start` runs while the build matches them (gateway/cli/build-check.js). Also runs the edge
# agent (`iocgw edge`) and the dashboards commands.

# The server's build (TypeScript) and the operator console's static files (Vite), both
# devDependencies, made in a stage of their own so the image keeps production dependencies only
# (docs/console.md).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build && npm run build:console

FROM node:20-bookworm-slim

# Compilers for native modules that have no prebuilt binary for the platform (better-sqlite3
# falls back to node-gyp); ffmpeg for camera capture in the edge agent.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so source edits do not reinstall them. .npmrc skips onnxruntime's optional
# GPU download. (Nothing is built here: see the stage above.)
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev && npm cache clean --force

# The same files the build stage compiled, with the same sizes and times, so the build matches them.
COPY . .
COPY --from=build /app/build build
COPY --from=build /app/gateway/console/dist gateway/console/dist

# Writable places for the unprivileged user: the gateway's data, model files, the edge queue, and
# the cluster's shared server key (docker-compose.yml, profile cluster). A named volume mounted on
# one of them starts with its owner.
RUN mkdir -p /data /models /app/config/edge-data /cluster-key \
 && chown -R node:node /data /models /app/config/edge-data /cluster-key
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
