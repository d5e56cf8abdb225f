// Builds vendor/kubernetes-client.js: client-node's kubeconfig loader and HTTP layer in one tree-shaken ESM file.
// The whole package costs a node agent ~60 MiB RSS (its generated API and model classes); the driver only speaks
// raw REST, so it loads this bundle instead (~16 MiB). Measured figures are in README's benchmark section.
import { fileURLToPath } from "node:url"
import { build } from "rolldown"

const root = fileURLToPath(new URL("../", import.meta.url))

await build({
  input: `${root}scripts/kubernetes-client.entry.mjs`,
  platform: "node",
  logLevel: "warn",
  output: { file: `${root}vendor/kubernetes-client.js`, format: "esm" }
})
