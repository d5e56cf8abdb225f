// What the driver's RSS is made of: a fresh node that only loads one module set and reports its own
// memory on exit (through the preload rssProbe.js), against bare node and the driver itself (--help).
import { execFile } from "node:child_process"
import * as path from "node:path"
import { promisify } from "node:util"
import { distMain, repoRoot } from "./procs.js"

const run = promisify(execFile)

export interface ModuleRss {
  readonly label: string
  readonly rssMiB: number
  readonly heapUsedMiB: number
}

const probe = path.join(import.meta.dirname, "rssProbe.js")

const measure = async (label: string, args: ReadonlyArray<string>): Promise<ModuleRss> => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env["NODE_OPTIONS"]
  const { stderr } = await run(process.execPath, ["--import", probe, ...args], {
    cwd: repoRoot,
    env,
    maxBuffer: 16 * 2 ** 20
  })
  const line = /^BENCH_RSS (\d+) (\d+)$/m.exec(stderr)
  if (line === null) throw new Error(`${label}: no BENCH_RSS line in ${stderr.slice(-300)}`)
  return { label, rssMiB: Number(line[1]) / 2 ** 20, heapUsedMiB: Number(line[2]) / 2 ** 20 }
}

const importing = (specifiers: ReadonlyArray<string>) => [
  "--input-type=module",
  "-e",
  specifiers.map((s) => `await import(${JSON.stringify(s)});`).join(" ")
]

export const measureModuleRss = async (): Promise<Array<ModuleRss>> => {
  const sets: Array<[string, ReadonlyArray<string>]> = [
    ["bare node", ["-e", ""]],
    ["effect (index, all modules)", importing(["effect"])],
    [
      "effect deep imports the driver uses",
      importing([
        "effect/Effect",
        "effect/Layer",
        "effect/Schema",
        "effect/Context",
        "effect/Duration",
        "effect/Option",
        "effect/Exit"
      ])
    ],
    ["@effect/platform-node NodeRuntime", importing(["@effect/platform-node/NodeRuntime"])],
    ["@grpc/grpc-js", importing(["@grpc/grpc-js"])],
    ["nice-grpc", importing(["nice-grpc"])],
    ["@kubernetes/client-node (index)", importing(["@kubernetes/client-node"])],
    [
      "@kubernetes/client-node config+http (what KubeApi loads)",
      importing(["@kubernetes/client-node/dist/config.js", "@kubernetes/client-node/dist/gen/http/http.js"])
    ],
    [
      "vendor/kubernetes-client.js (the bundle KubeApi loads, if built)",
      importing([path.join(distMain(".."), "vendor", "kubernetes-client.js")])
    ],
    ["the driver as shipped (bin entry) --help", [distMain("main.js"), "--help"]]
  ]
  const out: Array<ModuleRss> = []
  for (const [label, args] of sets)
    out.push(
      await measure(label, args).catch((e: unknown) => ({
        label: `${label} (failed: ${String(e).slice(0, 80)})`,
        rssMiB: Number.NaN,
        heapUsedMiB: Number.NaN
      }))
    )
  return out
}
