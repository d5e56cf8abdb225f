// The part of @kubernetes/client-node the driver uses (src/k8s/KubeApi.ts): kubeconfig loading with its auth
// plugins, and the request context and HTTP library that apply TLS and credentials. Bundled with tree-shaking by
// scripts/bundle-kubernetes-client.mjs, because importing the package loads ~60 MiB of generated API code.
export { KubeConfig } from "@kubernetes/client-node/dist/config.js"
export { RequestContext } from "@kubernetes/client-node/dist/gen/http/http.js"
export { IsomorphicFetchHttpLibrary } from "@kubernetes/client-node/dist/gen/http/isomorphic-fetch.js"
