// Builds the shipped programs from src/: per program (driver, CLI, reference provider, sync controller) one
// tree-shaken, minified, ASCII-only ESM bundle, dist/bin/<bin name>.bundle.js, with its source map, and the bin entry
// dist/bin/<bin name>.js: a ~2 KB launcher that applies the program's runtime tuning (src/platform/RuntimeTuning.ts),
// then imports the bundle. package.json's bin entries point at the launchers.
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
  {
    bin: "secrets-store-reference-provider",
    main: "src/reference-provider/main.ts",
    tuning: "referenceProviderTuning"
  },
  { bin: "secrets-store-sync-controller", main: "src/sync-controller/main.ts", tuning: "syncControllerTuning" }
]

const launcherId = "\0launcher"

// The launcher is a file of its own so that the first process, the one that re-executes node with the tuning, parses
// 2 KB instead of the whole program (~0.8 MB: 0.4 s of a 200m CPU limit).
const launcher = (program) => ({
  name: "program-launcher",
  resolveId: (source) => (source === launcherId ? launcherId : null),
  load: (id) =>
    id !== launcherId
      ? null
      : [
          `import { applyTuning, ${program.tuning} } from ${JSON.stringify(`${root}src/platform/RuntimeTuning.ts`)}`,
          `applyTuning(${program.tuning})`,
          // A URL, not a literal specifier, so the bundler leaves the program alone: it is a file of its own.
          `await import(new URL("./${program.bin}.bundle.js", import.meta.url).href)`
        ].join("\n")
})

// One non-ASCII character makes V8 store a whole script as two-byte text, doubling it in the heap. In the minified
// output they only sit in string and template literals and comments, where a \u escape means the same character.
const asciiOnly = (text) => text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

const options = (input, file, plugins, external) => ({
  input,
  platform: "node",
  logLevel: "warn",
  plugins,
  // src/ imports its siblings as "./x.js" (NodeNext): the file on disk is x.ts.
  resolve: { extensionAlias: { ".js": [".ts", ".js"] } },
  external,
  output: {
    file,
    format: "esm",
    minify: true,
    // Readable stack traces with NODE_OPTIONS=--enable-source-maps: the map names the src/ files.
    sourcemap: true,
    // One file: the driver's lazily imported standalone mode is inlined, not a chunk of its own.
    codeSplitting: false
  }
})

// Stack traces need the mappings and the src/ paths, not the sources themselves (6 MB of each map's 6.5).
const withoutSources = (mapFile) => {
  const map = JSON.parse(readFileSync(mapFile, "utf8"))
  delete map.sourcesContent
  writeFileSync(mapFile, JSON.stringify(map))
}

const bundle = async (program) => {
  const file = `${outDir}/${program.bin}.bundle.js`
  // @kubernetes/client-node is loaded from vendor/ at runtime (scripts/bundle-kubernetes-client.mjs), never here.
  await build(options(`${root}${program.main}`, file, [], [/^@kubernetes\/client-node/]))
  writeFileSync(file, asciiOnly(readFileSync(file, "utf8")))
  withoutSources(`${file}.map`)
  const entry = `${outDir}/${program.bin}.js`
  const built = options(launcherId, entry, [launcher(program)], [])
  await build({ ...built, output: { ...built.output, banner: "#!/usr/bin/env node" } })
  chmodSync(entry, 0o755)
}

// dist/ holds only these files: nothing left over from an older layout can be run by mistake.
rmSync(`${root}dist`, { recursive: true, force: true })
for (const program of programs) await bundle(program)
