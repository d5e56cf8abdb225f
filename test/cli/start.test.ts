// `npm start` (scripts/start.mjs) as a new user meets it: started in a fresh working directory, it serves CSI on
// ./run/csi.sock in standalone mode, the command it prints works as printed, and SIGINT stops everything and
// removes both sockets.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { eventually, repoRoot } from "../support/ChildProcess.js"
import { connectCsi } from "../support/CsiClient.js"

let cwd: string
let output = ""
let start: ReturnType<typeof spawn>
let exited: Promise<number | null>
const csiSocket = () => path.join(cwd, "run", "csi.sock")
const providerSocket = () => path.join(cwd, "run", "providers", "reference.sock")

/**
 * Runs one printed line in a shell in the repo, as the user would paste it. npx's first run in a checkout installs
 * the package into its cache and runs its install and prepare scripts in the checkout itself (node-gyp rebuild, the
 * build): `npm ci` did both, and redoing them would rewrite the addon and dist/ under the tests running beside it.
 */
const shell = (line: string) =>
  new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn("sh", ["-c", line], {
      cwd: repoRoot,
      env: { ...process.env, npm_config_ignore_scripts: "true" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let text = ""
    child.stdout.on("data", (chunk: Buffer) => {
      text += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      text += chunk.toString()
    })
    child.on("exit", (code) => resolve({ code, output: text }))
  })

const printed = (prefix: string) => {
  const line = output
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith(prefix))
  if (line === undefined) throw new Error(`no line starting with ${prefix} in:\n${output}`)
  return line
}

beforeAll(async () => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), "npm-start-"))
  start = spawn(process.execPath, [path.join(repoRoot, "scripts", "start.mjs")], {
    cwd,
    // Port 0: a test must not collide with a developer's running `npm start` on :8095.
    env: { ...process.env, SECRETS_STORE_METRICS_ADDR: "127.0.0.1:0" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  start.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  start.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  exited = new Promise((resolve) => start.on("exit", (code) => resolve(code)))
  await eventually(() => expect(output).toContain("Stop: Ctrl-C"), 30_000)
})

afterAll(async () => {
  if (start.exitCode === null) start.kill("SIGTERM")
  await exited
  fs.rmSync(cwd, { recursive: true, force: true })
})

describe("npm start", () => {
  it("answers Probe on ./run/csi.sock", async () => {
    const csi = connectCsi(csiSocket())
    try {
      expect((await csi.identity.probe({})).ready).toBe(true)
      expect((await csi.identity.getPluginInfo({})).name).toBe("secrets-store.csi.k8s.io")
    } finally {
      csi.close()
    }
  })

  it("the printed mount command works as printed, through the driver, and the driver logs the pod status", async () => {
    const mount = await shell(printed("npx secrets-store mount --endpoint"))
    expect(mount.output).toContain("(tmpfs) via unix://")
    expect(mount.code).toBe(0)
    const target = path.join(
      cwd,
      "run",
      "kubelet",
      "pods",
      "example",
      "volumes",
      "kubernetes.io~csi",
      "example-reference",
      "mount"
    )
    expect(fs.readFileSync(path.join(target, "username"), "utf8")).toBe("app")
    expect(fs.statSync(path.join(target, "password")).mode & 0o777).toBe(0o640)
    await eventually(() => expect(output).toContain("standalone: pod status recorded"))
    expect(output).not.toContain("not-a-real-password")
    const unmount = await shell(printed("npx secrets-store unmount --endpoint"))
    expect(unmount.code).toBe(0)
    expect(fs.existsSync(target)).toBe(false)
  })

  it("SIGINT stops the driver and the provider and removes both sockets", async () => {
    start.kill("SIGINT")
    expect(await exited).toBe(0)
    expect(output).toContain("stopped the driver and the provider")
    expect(fs.existsSync(csiSocket())).toBe(false)
    expect(fs.existsSync(providerSocket())).toBe(false)
  })
})
