// The image holds what the bundles need and nothing else: its runtime stage installs no node_modules, and the files
// its COPY lines take from the build, laid out as the image lays them out (outside the repository, so no node_modules
// is reachable, and with no mount(8) on PATH, so a publish proves the addon loaded), run all three programs.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { eventually, repoRoot, type RunningProcess } from "../support/ChildProcess.js"

const dockerfile = fs.readFileSync(path.join(repoRoot, "Dockerfile"), "utf8")
const manifest = fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")
const bins = (JSON.parse(manifest) as { bin: Record<string, string> }).bin
/** The runtime stage: everything after the last FROM, continuation lines joined. */
const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM ")).replace(/\\\n/g, " ")
const runtimeLines = runtime.split("\n").filter((line) => !line.startsWith("#"))

/** `COPY [--from=build] <source> <dest>` of the runtime stage: source in the repo (the build's /src), dest in /app. */
const copies = runtimeLines
  .filter((line) => line.startsWith("COPY "))
  .map((line) => {
    const words = line.split(/\s+/).slice(1)
    const fromBuild = words[0] === "--from=build"
    const [source, dest] = fromBuild ? words.slice(1) : words
    return { source: fromBuild ? path.relative("/src", source!) : source!, dest: dest! }
  })
/** `ln -s /app/<file> /usr/local/bin/<name>` of the runtime stage. */
const links = [...runtime.matchAll(/ln -s \/app\/(\S+) \/usr\/local\/bin\/(\S+)/g)].map((m) => ({
  file: m[1]!,
  name: m[2]!
}))

const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "image-")))
const app = path.join(base, "app")
const binDir = path.join(base, "usr-local-bin")
const running: Array<RunningProcess> = []

afterAll(async () => {
  for (const p of running) await p.stop()
  fs.rmSync(base, { recursive: true, force: true })
})

/** The image's layout: each COPY applied from the repository's built files, each link made. */
const layOut = () => {
  fs.mkdirSync(app, { recursive: true })
  fs.mkdirSync(binDir, { recursive: true })
  for (const { source, dest } of copies) {
    fs.cpSync(path.join(repoRoot, source), path.resolve(app, dest), { recursive: true })
  }
  for (const { file, name } of links) fs.symlinkSync(path.join(app, file), path.join(binDir, name))
}

// Node itself and the image's PATH links; no mount(8), no npm, no node_modules anywhere above the layout.
const env = () => {
  const out: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.dirname(process.execPath)}:${binDir}` }
  delete out["NODE_OPTIONS"]
  return out
}

const run = (name: string, args: ReadonlyArray<string>): RunningProcess => {
  const child = spawn(path.join(binDir, name), args, { cwd: base, env: env(), stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    return exited
  }
  const handle = { child, output: () => output, exited, stop }
  running.push(handle)
  return handle
}

describe("the image's runtime stage", () => {
  it("installs no node_modules and copies none", () => {
    expect(runtime).not.toMatch(/\bnpm (ci|install|i)\b/)
    for (const { source } of copies) expect(source).not.toMatch(/node_modules/)
    expect(copies.map((c) => c.source)).toEqual(
      expect.arrayContaining([
        "package.json",
        "build-info.json",
        "dist/bin",
        "vendor",
        "build/Release/secrets_store_mount.node"
      ])
    )
  })

  it("puts every package.json bin on PATH under its name and enters through the driver's", () => {
    expect(links).toEqual(expect.arrayContaining(Object.entries(bins).map(([name, file]) => ({ file, name }))))
    expect(links).toHaveLength(Object.keys(bins).length)
    expect(dockerfile).toMatch(/^ENTRYPOINT \["secrets-store-csi-driver"\]$/m)
    expect(dockerfile).not.toMatch(/^ENV .*NODE_OPTIONS/m)
  })

  it("runs the three programs from what it copies: a publish through the driver lands on a tmpfs", async () => {
    layOut()
    fs.mkdirSync(path.join(base, "providers"))
    const classes = path.join(repoRoot, "examples", "reference")
    const provider = run("secrets-store-reference-provider", [
      `--provider-dir=${path.join(base, "providers")}`,
      "--name=reference",
      `--store=${path.join(classes, "store.yaml")}`
    ])
    const socket = path.join(base, "csi.sock")
    const kubelet = path.join(base, "kubelet")
    const driver = run("secrets-store-csi-driver", [
      `--endpoint=unix://${socket}`,
      `--kubelet-root-dir=${kubelet}`,
      "--nodeid=node-image",
      `--standalone-classes=${classes}`,
      `--provider-volume=${path.join(base, "providers")}`,
      "--additional-provider-volume-paths=",
      "--metrics-addr=127.0.0.1:0"
    ])
    await eventually(() => {
      expect(fs.existsSync(path.join(base, "providers", "reference.sock")), provider.output()).toBe(true)
      expect(fs.existsSync(socket), driver.output()).toBe(true)
    }, 30_000)
    const target = path.join(kubelet, "pods", "image", "volumes", "kubernetes.io~csi", "example-reference", "mount")
    fs.mkdirSync(path.dirname(target), { recursive: true })
    const cli = ["--endpoint", `unix://${socket}`, "--target", target]
    const mount = run("secrets-store", ["mount", ...cli, "--class", path.join(classes, "secretproviderclass.yaml")])
    expect((await mount.exited).code, `${mount.output()}\n${driver.output()}`).toBe(0)
    expect(fs.readFileSync(path.join(target, "username"), "utf8")).toBe("app")
    const mountinfo = fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => line.split(" "))
    expect(mountinfo.find((fields) => fields[4] === target)?.includes("tmpfs")).toBe(true)
    const unmount = run("secrets-store", ["unmount", ...cli])
    expect((await unmount.exited).code, unmount.output()).toBe(0)
    expect(fs.existsSync(target)).toBe(false)
  })
})
