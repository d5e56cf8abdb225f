// Builds the shipped programs: dist/bin/<bin name>.js, one tree-shaken, minified, ASCII-only ESM file per program
// (driver, CLI, reference provider) with its source map, straight from src/. Each opens with its runtime tuning
// (src/platform/RuntimeTuning.ts), evaluated before any other module. package.json's bin entries point here.
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { build } from "rolldown"

const root = fileURLToPath(new URL("../", import.meta.url))
// Two levels below the package root, as src/<dir>/ is: the modules' `../../build/Release/...`, `../../vendor/...`,
// `../../package.json` and `../../build-info.json` resolve to the same files from the bundle.
const outDir = `${root}dist/bin`

export const programs = [
  { bin: "secrets-store-csi-driver", main: "src/main.ts", tuning: "driverTuning" },
  { bin: "secrets-store", main: "src/cli/main.ts", tuning: "cliTuning" },
  { bin: "secrets-store-reference-provider", main: "src/reference-provider/main.ts", tuning: "referenceProviderTuning" }
]

const tuningId = (name) => `\0tuning:${name}`
const entryId = (bin) => `\0entry:${bin}`

/** Entry = the tuning (a module of its own, so it is evaluated first), then the program's main. */
const entries = {
  name: "program-entries",
  resolveId: (source) => (source.startsWith("\0tuning:") || source.startsWith("\0entry:") ? source : null),
  load(id) {
    if (id.startsWith("\0tuning:")) {
      const name = id.slice("\0tuning:".length)
      return `import { applyTuning, ${name} } from ${JSON.stringify(`${root}src/platform/RuntimeTuning.ts`)}\n` +
        `applyTuning(${name})\n`
    }
    if (id.startsWith("\0entry:")) {
      const program = programs.find((p) => p.bin === id.slice("\0entry:".length))
      return `import ${JSON.stringify(tuningId(program.tuning))}\nimport ${JSON.stringify(`${root}${program.main}`)}\n`
    }
    return null
  }
}

// One non-ASCII character makes V8 store a whole script as two-byte text, doubling it in the heap. In the minified
// output they only sit in string and template literals and comments, where a \u escape means the same character.
const asciiOnly = (text) =>
  text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

const bundle = async (program) => {
  const file = `${outDir}/${program.bin}.js`
  await build({
    input: entryId(program.bin),
    platform: "node",
    logLevel: "warn",
    plugins: [entries],
    // src/ imports its siblings as "./x.js" (NodeNext): the file on disk is x.ts.
    resolve: { extensionAlias: { ".js": [".ts", ".js"] } },
    // @kubernetes/client-node is loaded from vendor/ at runtime (scripts/bundle-kubernetes-client.mjs), never here.
    external: [/^@kubernetes\/client-node/],
    output: {
      file,
      format: "esm",
      minify: true,
      sourcemap: true,
      // Readable stack traces with NODE_OPTIONS=--enable-source-maps: src/ paths, relative to the map.
      codeSplitting: false,
      banner: "#!/usr/bin/env node"
    }
  })
  writeFileSync(file, asciiOnly(readFileSync(file, "utf8")))
  chmodSync(file, 0o755)
  return file
}

// dist/ holds only these bundles: nothing left over from an older layout can be run by mistake.
rmSync(`${root}dist`, { recursive: true, force: true })
for (const program of programs) await bundle(program)
