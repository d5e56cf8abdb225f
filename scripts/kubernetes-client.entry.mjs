// The part of @kubernetes/client-node the driver uses (src/k8s/KubeApi.ts): kubeconfig loading with its auth
// plugins (token files, exec credential plugins, OIDC, client certificates), applied to node:https request options.
// Bundled with tree-shaking by scripts/bundle-kubernetes-client.mjs, because importing the package loads ~60 MiB of
// generated API code; the HTTP transport itself is node:https (src/k8s/KubeTransport.ts), so undici is stubbed out.
export { KubeConfig } from "@kubernetes/client-node/dist/config.js"
