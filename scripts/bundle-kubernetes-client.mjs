// Builds vendor/kubernetes-client.js: client-node's KubeConfig (kubeconfig loading, auth plugins, TLS options) in one
// tree-shaken, minified ESM file. The whole package costs a node agent ~60 MiB RSS (its generated API and model
// classes) and its fetch transport ~9 MiB more (undici). The driver speaks raw REST over node:https, so it loads this
// bundle with both replaced by stubs that throw if anything ever reaches them (scripts/kubernetes-client.stubs.mjs).
import { readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { build } from "rolldown"

const root = fileURLToPath(new URL("../", import.meta.url))
const out = `${root}vendor/kubernetes-client.js`
const stubs = `${root}scripts/kubernetes-client.stubs.mjs`
const nodeHttp = "\0node-http-via-require"

/** undici from anywhere; the generated API only where config.js imports it (makeApiClient). */
const stubUnused = {
  name: "stub-unused-client-node-parts",
  resolveId(source, importer) {
    if (source === "undici") return stubs
    if (source === "./gen/index.js" && importer?.endsWith("/@kubernetes/client-node/dist/config.js")) return stubs
    return null
  }
}

// An ESM import of node:http reads all its exports, and the lazy WebSocket/CloseEvent/MessageEvent getters load
// Node's bundled undici (~13 MiB RSS); src/platform/nodeHttp.ts explains. This serves node:http through require,
// re-exporting every plain property by name.
const httpViaRequire = {
  name: "node-http-via-require",
  resolveId: (source) => (source === "http" || source === "node:http" ? nodeHttp : null),
  load(id) {
    if (id !== nodeHttp) return null
    const http = createRequire(import.meta.url)("node:http")
    const plain = Object.keys(http).filter((k) => !Object.getOwnPropertyDescriptor(http, k)?.get)
    return [
      `import { createRequire } from "node:module"`,
      `const http = createRequire(import.meta.url)("node:http")`,
      `export default http`,
      ...plain.map((k) => `export const ${k} = http.${k}`)
    ].join("\n")
  }
}

await build({
  input: `${root}scripts/kubernetes-client.entry.mjs`,
  platform: "node",
  logLevel: "warn",
  plugins: [stubUnused, httpViaRequire],
  // Minified: V8 keeps every module's source text in the heap, and comments are most of it.
  output: { file: out, format: "esm", minify: true }
})

// One non-ASCII character makes V8 store the whole source as two-byte text, doubling it. The few there are sit in
// untagged string and template literals (js-yaml's messages), where a \u escape means the same character.
const ascii = readFileSync(out, "utf8").replace(
  /[^\x00-\x7f]/g,
  (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
)
writeFileSync(out, ascii)
