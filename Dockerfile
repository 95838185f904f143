# Tollgate image. Two stages: build compiles TypeScript with the dev tools;
# runtime gets production dependencies only, the compiled dist/, the bundled
# config and the price table. test/production/docker-image.test.ts runs the
# runtime stage's steps in a clean directory (no container engine needed).
#
#   docker build -t tollgate .
#   docker run -p 8080:8080 -v tollgate-data:/data -v $PWD/tollgate.yaml:/app/tollgate.yaml:ro tollgate

# uWebSockets.js ships a binary for Node 20 on glibc >= 2.36: bookworm.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# The native addon (native/) is compiled here: a C++ toolchain, and the Node
# headers the image ships under /usr/local/include/node (no download).
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --ignore-scripts
COPY native ./native
RUN node native/build.mjs --strict
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    TOLLGATE_DATA_DIR=/data \
    TOLLGATE_PORT=8080
WORKDIR /app
# --ignore-scripts: the `prepare` build needs dev tools; native pieces (uWS,
# lmdb, msgpackr) load prebuilt binaries that ship inside their packages, and
# Tollgate's own addon comes compiled from the build stage.
COPY package.json package-lock.json ./
RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline && rm -rf /root/.npm /tmp/*
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/build/Release ./native/build/Release
COPY config ./config
COPY pricing/models.json ./pricing/models.json
COPY dashboard ./dashboard
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# slim has no curl: Node's own fetch. TOLLGATE_PORT must match listen.port of the config.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.TOLLGATE_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM itself (drain, then exit 0). Give
# the container a stop timeout longer than shutdownGrace (default 30 s).
STOPSIGNAL SIGTERM
CMD ["node", "dist/cli.js", "serve"]
