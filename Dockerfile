# syntax=docker/dockerfile:1
# The driver image: secrets-store-csi-driver (entrypoint) and secrets-store-reference-provider, on Node 24.
#   docker build --build-arg GIT_COMMIT=$(git rev-parse HEAD) -t ghcr.io/secrets-store-csi-ts/driver:dev .

# --- build: full install (dev tools, and the optional native binaries TypeScript 7 and vite need), then compile.
FROM node:24-bookworm AS build
WORKDIR /src
# .git is not in the build context: the commit comes in as an argument (scripts/build-info.mjs reads it), and
# SOURCE_DATE_EPOCH, when given, makes build-info.json's date reproducible.
ARG GIT_COMMIT=unknown
ARG SOURCE_DATE_EPOCH
ENV GIT_COMMIT=${GIT_COMMIT} SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH}
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY binding.gyp ./
COPY native ./native
COPY src ./src
# `npm ci` runs the `prepare` script: build-info.json, then tsc into dist/.
RUN npm ci && test -f dist/main.js && test -f dist/reference-provider/main.js && test -f build-info.json \
  && test -f vendor/kubernetes-client.js && test -f build/Release/secrets_store_mount.node

# --- runtime: Node 24 slim, mount(8)/umount(8) for the tmpfs mounts, CA certificates for TLS to the API server.
FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends mount ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Production dependencies only. --omit=optional keeps the registry's Node binary (an optional dependency, 189 MB)
# out: the base image's node runs the driver. --ignore-scripts: `prepare` would run tsc, which is a dev tool.
RUN npm ci --omit=dev --omit=optional --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY --from=build /src/build-info.json ./build-info.json
# client-node, tree-shaken (scripts/bundle-kubernetes-client.mjs): what the driver loads instead of the package.
COPY --from=build /src/vendor ./vendor
# mount(2)/umount2(2) as an N-API addon (native/mount.c): no mount(8) process per publish.
COPY --from=build /src/build/Release/secrets_store_mount.node ./build/Release/secrets_store_mount.node
# The four programs on PATH under their package.json bin names (they start with #!/usr/bin/env node).
RUN chmod 0755 dist/main.js dist/reference-provider/main.js dist/cli/main.js dist/sync-controller/main.js \
 && ln -s /app/dist/main.js /usr/local/bin/secrets-store-csi-driver \
 && ln -s /app/dist/reference-provider/main.js /usr/local/bin/secrets-store-reference-provider \
 && ln -s /app/dist/cli/main.js /usr/local/bin/secrets-store \
 && ln -s /app/dist/sync-controller/main.js /usr/local/bin/secrets-store-sync-controller
# Root, and the DaemonSet runs it privileged: the driver mount(2)s a tmpfs onto each pod's volume directory under
# the kubelet pods dir, mounted with Bidirectional propagation so the host (and the pod) see the mount. Mounting
# needs CAP_SYS_ADMIN in the host's mount namespace, and Bidirectional propagation needs a privileged container;
# a non-root mounter is impossible. The reference provider uses the same image unprivileged.
USER root
ENTRYPOINT ["secrets-store-csi-driver"]
