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
# `npm ci` runs `install` (the mount(2) addon) and `prepare`: build-info.json, the type check, then the bundles
# (scripts/bundle-programs.mjs, scripts/bundle-kubernetes-client.mjs).
RUN npm ci && test -f dist/bin/secrets-store-csi-driver.js && test -f dist/bin/secrets-store-csi-driver.bundle.js \
  && test -f dist/bin/secrets-store-reference-provider.js && test -f dist/bin/secrets-store.js \
  && test -f build-info.json && test -f vendor/kubernetes-client.js && test -f build/Release/secrets_store_mount.node

# --- runtime: Node 24 slim and the built files only. The bundles hold every JavaScript dependency, so the image has
# no node_modules at all (test/manifests/image.test.ts checks that the bundles import nothing but node: builtins).
# npm, npx, corepack and yarn come with the base image and are never run: removed. mount(8)/umount(8) stay as the
# addon's fallback, CA certificates for TLS to the API server.
FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends mount ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules /opt/yarn-* \
 && rm -f /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg
WORKDIR /app
ENV NODE_ENV=production
# The bundles sit in /app/dist/bin/ and read these two levels up, as the modules of src/<dir>/ do:
# package.json (the reference provider's version), build-info.json (--version), vendor/ and build/Release/.
COPY package.json ./package.json
COPY --from=build /src/build-info.json ./build-info.json
# The bin entries (launchers that apply each program's runtime tuning), the bundles and their source maps.
COPY --from=build /src/dist/bin ./dist/bin
# client-node's KubeConfig, tree-shaken (scripts/bundle-kubernetes-client.mjs): loaded only with a kubeconfig.
COPY --from=build /src/vendor ./vendor
# mount(2)/umount2(2) as an N-API addon (native/mount.c): no mount(8) process per publish.
COPY --from=build /src/build/Release/secrets_store_mount.node ./build/Release/secrets_store_mount.node
# The four programs on PATH under their package.json bin names (they start with #!/usr/bin/env node); each applies
# its own V8 settings, with no NODE_OPTIONS needed (an operator's NODE_OPTIONS still applies on top).
RUN ln -s /app/dist/bin/secrets-store-csi-driver.js /usr/local/bin/secrets-store-csi-driver \
 && ln -s /app/dist/bin/secrets-store-reference-provider.js /usr/local/bin/secrets-store-reference-provider \
 && ln -s /app/dist/bin/secrets-store.js /usr/local/bin/secrets-store \
 && ln -s /app/dist/bin/secrets-store-sync-controller.js /usr/local/bin/secrets-store-sync-controller
# Root, and the DaemonSet runs it privileged: the driver mount(2)s a tmpfs onto each pod's volume directory under
# the kubelet pods dir, mounted with Bidirectional propagation so the host (and the pod) see the mount. Mounting
# needs CAP_SYS_ADMIN in the host's mount namespace, and Bidirectional propagation needs a privileged container;
# a non-root mounter is impossible. The reference provider uses the same image unprivileged.
USER root
ENTRYPOINT ["secrets-store-csi-driver"]
