// Child processes and what /proc says about them: spawning the built programs through their shipped bin entries
// (as shipped, or with the runtime tuning bypassed and node flags of our choosing), CPU ticks, RSS, and the mount
// table sweep that unmounts every tmpfs left under the benchmark's directory.
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { operatorNodeOptionsVariable } from "../src/platform/RuntimeTuning.js"

const run = promisify(execFile)

export const repoRoot = path.resolve(import.meta.dirname, "../../..")
let distRoot = path.join(repoRoot, "dist")
/** Points the programs at another build (snapshot.ts). */
export const useDistRoot = (dir: string): void => {
  distRoot = dir
}

// The programs by the src/ main they are built from, to their package.json bin names.
const binOf: Record<string, string> = {
  "main.js": "secrets-store-csi-driver",
  "cli/main.js": "secrets-store",
  "reference-provider/main.js": "secrets-store-reference-provider"
}

/**
 * The shipped entry of a program: the package.json bin of the build under test (a bundle's launcher), or, for a
 * BENCH_REF older than the bundles, the compiled dist/<relative> its bin named then.
 */
export const distMain = (relative: string) => {
  const packageRoot = path.dirname(distRoot)
  try {
    const manifest = fs.readFileSync(path.join(packageRoot, "package.json"), "utf8")
    const bins = (JSON.parse(manifest) as { bin?: Record<string, string> }).bin
    const bin = bins?.[binOf[relative] ?? ""]
    if (bin !== undefined && fs.existsSync(path.join(packageRoot, bin))) return path.join(packageRoot, bin)
  } catch {
    // no package.json beside the build: fall through to the compiled layout
  }
  return path.join(distRoot, relative)
}

export interface Child {
  readonly child: ChildProcess
  readonly pid: number
  /** The last 64 KiB of stdout+stderr (kept short so 10,000 cycles of logs cannot grow the harness). */
  readonly tail: () => string
  readonly stop: () => Promise<void>
}

const children = new Set<Child>()
let closed = false

// Last resort: a child must not outlive the harness, whatever way it exits.
process.on("exit", () => {
  for (const c of children) c.child.kill("SIGKILL")
})

export interface SpawnOptions {
  /** Node flags on the command line; with them the program's own runtime tuning is bypassed (see `untuned`). */
  readonly nodeFlags?: ReadonlyArray<string>
  /** NODE_OPTIONS of the child, as an operator would set it; undefined clears it. */
  readonly nodeOptions?: string | undefined
  /** Bypass the program's runtime tuning (src/platform/RuntimeTuning.ts): it starts as if already tuned. */
  readonly untuned?: boolean
}

export const spawnProgram = (relativeMain: string, args: ReadonlyArray<string>, options: SpawnOptions = {}): Child => {
  if (closed) throw new Error("the benchmark is shutting down")
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env["NODE_OPTIONS"]
  delete env[operatorNodeOptionsVariable]
  if (options.nodeOptions !== undefined) env["NODE_OPTIONS"] = options.nodeOptions
  if (options.untuned === true || (options.nodeFlags ?? []).length > 0) {
    env[operatorNodeOptionsVariable] = options.nodeOptions ?? ""
  }
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), distMain(relativeMain), ...args], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let tail = ""
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-65_536)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const handle: Child = {
    child,
    pid: child.pid ?? -1,
    tail: () => tail,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        const killer = setTimeout(() => child.kill("SIGKILL"), 30_000)
        await exited
        clearTimeout(killer)
      }
      children.delete(handle)
    }
  }
  children.add(handle)
  return handle
}

/** Kills every child still running (the harness's finally). */
export const stopAllChildren = async (): Promise<void> => {
  closed = true
  await Promise.all([...children].map((c) => c.stop()))
}

const clockTicks = (() => {
  try {
    return Number.parseInt(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim(), 10) || 100
  } catch {
    return 100
  }
})()

/** utime + stime of a process, in seconds (resolution 1/CLK_TCK). */
export const cpuSeconds = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  // Fields after the ")" of comm: state is field 3, utime 14, stime 15 (1-based).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / clockTicks
}

export interface MemorySample {
  readonly rssMiB: number
  readonly hwmMiB: number
}

export const memoryOf = (pid: number): MemorySample => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN)
  return { rssMiB: kib("VmRSS") / 1024, hwmMiB: kib("VmHWM") / 1024 }
}

const unescapeMountPath = (text: string) =>
  text.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)))

/** Mount points at or under `root`, deepest first. */
export const mountsUnder = (root: string): Array<string> =>
  fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p): p is string => p !== undefined)
    .map(unescapeMountPath)
    .filter((p) => p === root || p.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length)

/** Unmounts everything under `root` (lazily if a plain umount fails); returns how many were left. */
export const unmountAllUnder = async (root: string): Promise<number> => {
  let left = 0
  for (let round = 0; round < 4; round++) {
    const mounts = mountsUnder(root)
    left = mounts.length
    if (left === 0) return 0
    for (const mount of mounts) {
      await run("umount", [mount]).catch(() => run("umount", ["-l", mount]).catch(() => undefined))
    }
  }
  return mountsUnder(root).length
}

/** How many mount points the whole machine has (mountinfo size drives the driver's mount checks). */
export const mountCount = (): number =>
  fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => l !== "").length
