// The programs tune themselves: the shipped driver, started the ways an operator starts it (the image's PATH link or
// node_modules/.bin, i.e. the file executed through a symlink; npx), runs with its V8 heap capped and without JIT,
// with no NODE_OPTIONS given; an operator's NODE_OPTIONS still applies on top and wins for the same flag.
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { driverTuning, operatorNodeOptionsVariable, tunedExec } from "../../src/platform/RuntimeTuning.js"
import { distMain, eventually, repoRoot } from "../support/ChildProcess.js"
import { freePort } from "../support/Inspector.js"
import { runtimeFacts } from "../support/InspectorEval.js"

const running: Array<{ child: ChildProcess; group: boolean }> = []
const dirs: Array<string> = []

afterEach(async () => {
  for (const { child, group } of running.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    const exited = new Promise((resolve) => child.once("exit", resolve))
    if (group) process.kill(-child.pid!, "SIGTERM")
    else child.kill("SIGTERM")
    await exited
  }
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

const withNode24 = { PATH: `${path.join(repoRoot, "node_modules", ".bin")}:${process.env["PATH"] ?? ""}` }

/** A standalone driver's flags (no API server), on a socket in a fresh temp dir. */
const driverArgs = () => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "tuning-")))
  dirs.push(dir)
  fs.mkdirSync(path.join(dir, "providers"))
  const socket = path.join(dir, "csi.sock")
  return {
    socket,
    args: [
      `--endpoint=unix://${socket}`,
      `--kubelet-root-dir=${path.join(dir, "kubelet")}`,
      "--nodeid=node-tuning",
      `--standalone-classes=${path.join(repoRoot, "examples", "reference")}`,
      `--provider-volume=${path.join(dir, "providers")}`,
      "--additional-provider-volume-paths=",
      "--metrics-addr=127.0.0.1:0"
    ]
  }
}

/** The shipped driver executed as a file through a symlink, as /usr/local/bin/... in the image and .bin/ link it. */
const startLinkedDriver = (nodeOptions: string) => {
  const linkDir = fs.mkdtempSync(path.join(os.tmpdir(), "tuning-bin-"))
  dirs.push(linkDir)
  const link = path.join(linkDir, "secrets-store-csi-driver")
  fs.symlinkSync(distMain("main.js"), link)
  const { socket, args } = driverArgs()
  const env: NodeJS.ProcessEnv = { ...process.env, ...withNode24, NODE_OPTIONS: nodeOptions }
  delete env[operatorNodeOptionsVariable]
  const child = spawn(link, args, { env, stdio: "ignore" })
  running.push({ child, group: false })
  return { child, socket }
}

const tunedLimitMiB = 96 + 3 * 1 // old space + three semi-spaces of 1 MiB (driverTuning)

describe("the driver's runtime tuning", () => {
  it("puts its flags before the operator's NODE_OPTIONS and keeps the operator's command-line flags last", () => {
    const exec = tunedExec(
      driverTuning,
      {
        execPath: "/usr/bin/node",
        execArgv: ["--stack-trace-limit=50"],
        argv: ["/usr/bin/node", "/app/main.js", "-v=2"]
      },
      { NODE_OPTIONS: "--max-old-space-size=150", HOME: "/root" }
    )
    expect(exec.env["NODE_OPTIONS"]).toBe(`${driverTuning.nodeOptions.join(" ")} --max-old-space-size=150`)
    expect(exec.env[operatorNodeOptionsVariable]).toBe("--max-old-space-size=150")
    expect(exec.env["HOME"]).toBe("/root")
    expect(exec.args).toEqual([
      "/usr/bin/node",
      ...driverTuning.execArgv,
      "--stack-trace-limit=50",
      "/app/main.js",
      "-v=2"
    ])
  })

  it("caps the heap and runs without JIT when executed through its link with no tuning flags given", async () => {
    const port = await freePort()
    const { child, socket } = startLinkedDriver(`--inspect=127.0.0.1:${port}`)
    await eventually(() => expect(fs.existsSync(socket)).toBe(true), 30_000)
    const facts = await eventually(() => runtimeFacts(port), 30_000)
    // Re-executed in place (execve): the same process, not a second one.
    expect(facts.pid).toBe(child.pid)
    expect(facts.heapLimitMiB).toBeGreaterThanOrEqual(96)
    expect(facts.heapLimitMiB).toBeLessThanOrEqual(tunedLimitMiB + 8)
    expect(facts.jitless).toBe(true)
    expect(facts.execArgv).toEqual(expect.arrayContaining([...driverTuning.execArgv]))
    // Its own children get the operator's environment back, not the driver's flags.
    expect(facts.nodeOptions).toBe(`--inspect=127.0.0.1:${port}`)
    expect(facts.tuningMarker).toBeNull()
  })

  it("lets the operator's NODE_OPTIONS win for the same flag", async () => {
    const port = await freePort()
    const { socket } = startLinkedDriver(`--max-old-space-size=150 --inspect=127.0.0.1:${port}`)
    await eventually(() => expect(fs.existsSync(socket)).toBe(true), 30_000)
    const facts = await eventually(() => runtimeFacts(port), 30_000)
    expect(facts.heapLimitMiB).toBeGreaterThanOrEqual(150)
    expect(facts.heapLimitMiB).toBeLessThanOrEqual(150 + 8)
    expect(facts.jitless).toBe(true)
    expect(facts.execArgv).toEqual(expect.arrayContaining([...driverTuning.execArgv]))
  })

  it("is tuned when started with npx", async () => {
    const { socket, args } = driverArgs()
    // Without scripts: npx's first run in a checkout would rebuild the addon and dist/ under the tests beside this one.
    const env: NodeJS.ProcessEnv = { ...process.env, ...withNode24, npm_config_ignore_scripts: "true" }
    delete env["NODE_OPTIONS"]
    delete env[operatorNodeOptionsVariable]
    const child = spawn("npx", ["--no-install", "secrets-store-csi-driver", ...args], {
      cwd: repoRoot,
      env,
      stdio: "ignore",
      detached: true
    })
    running.push({ child, group: true })
    await eventually(() => expect(fs.existsSync(socket)).toBe(true), 60_000)
    // npx runs the driver through a node_modules/.bin link of its own, as a grandchild (npm exec, sh -c, node):
    // find the node process by the driver's unique socket path in /proc/<pid>/cmdline.
    const pid = fs
      .readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .find((entry) => {
        try {
          const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")
          return cmdline.includes(`--endpoint=unix://${socket}`) && path.basename(cmdline[0] ?? "") === "node"
        } catch {
          return false
        }
      })
    expect(pid).toBeDefined()
    // /proc/<pid>/environ is the environment V8 started with (the process restores the operator's later).
    const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")
    expect(environ).toContain(`NODE_OPTIONS=${driverTuning.nodeOptions.join(" ")}`)
    expect(environ).toContain(`${operatorNodeOptionsVariable}=`)
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
    expect(cmdline).toEqual(expect.arrayContaining([...driverTuning.execArgv]))
  })
})
