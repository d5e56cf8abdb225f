// Start-up under the DaemonSet's CPU limit: spawn of the shipped driver (standalone, no API server) to its CSI socket,
// in a CPU cgroup of our own capped like the manifest's limit (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us), and
// unthrottled. The cgroup is created for the run and removed after; without a writable cpu controller, only the
// unthrottled figure is reported.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type { DriverVariant } from "./memory.js"
import { distMain, repoRoot } from "./procs.js"
import { operatorNodeOptionsVariable } from "../src/platform/RuntimeTuning.js"
import { nowMs, summarize, type Summary } from "./stats.js"

export interface StartupResult {
  readonly cpuLimitMillicores: number
  /** How the limit was applied, or why it was not. */
  readonly method: string
  readonly rows: ReadonlyArray<{ readonly config: string; readonly limited?: Summary; readonly unthrottled: Summary }>
}

interface Cgroup {
  readonly procs: string
  readonly method: string
  readonly remove: () => void
}

/** A CPU cgroup capped at `millicores`, v2 first, then v1; undefined when neither is writable. */
const makeCgroup = (millicores: number, name: string): Cgroup | string => {
  const period = 100_000
  const quota = Math.round((millicores / 1000) * period)
  const v2 = "/sys/fs/cgroup"
  try {
    if (fs.readFileSync(path.join(v2, "cgroup.controllers"), "utf8").split(/\s+/).includes("cpu")) {
      const dir = path.join(v2, name)
      fs.mkdirSync(dir, { recursive: true })
      fs.writeFileSync(path.join(dir, "cpu.max"), `${quota} ${period}`)
      const method = `cgroup v2 ${dir}/cpu.max = ${quota} ${period}`
      return { procs: path.join(dir, "cgroup.procs"), method, remove: () => fs.rmdirSync(dir) }
    }
  } catch {
    // no cgroup v2 cpu controller here: try v1
  }
  const v1 = "/sys/fs/cgroup/cpu"
  try {
    const dir = path.join(v1, name)
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, "cpu.cfs_period_us"), String(period))
    fs.writeFileSync(path.join(dir, "cpu.cfs_quota_us"), String(quota))
    const method = `cgroup v1 ${dir} cfs_quota_us=${quota}/${period}`
    return { procs: path.join(dir, "cgroup.procs"), method, remove: () => fs.rmdirSync(dir) }
  } catch (error) {
    return `no writable cpu cgroup (${String(error).slice(0, 120)})`
  }
}

/** One start: spawn (inside the cgroup when given) to the socket file, in ms; then SIGTERM and wait. */
const startOnce = async (
  root: string,
  variant: DriverVariant,
  cgroup: Cgroup | undefined,
  i: number
): Promise<number> => {
  const dir = path.join(root, `start-${i}`)
  fs.mkdirSync(path.join(dir, "providers"), { recursive: true })
  const socket = path.join(dir, "csi.sock")
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env["NODE_OPTIONS"]
  delete env[operatorNodeOptionsVariable]
  if (variant.nodeOptions !== undefined) env["NODE_OPTIONS"] = variant.nodeOptions
  if (variant.untuned === true) env[operatorNodeOptionsVariable] = variant.nodeOptions ?? ""
  const program = [
    process.execPath,
    ...(variant.nodeFlags ?? []),
    distMain("main.js"),
    `--endpoint=unix://${socket}`,
    `--kubelet-root-dir=${path.join(dir, "kubelet")}`,
    "--nodeid=bench-start",
    `--standalone-classes=${path.join(repoRoot, "examples", "reference")}`,
    `--provider-volume=${path.join(dir, "providers")}`,
    "--additional-provider-volume-paths=",
    "--metrics-addr=127.0.0.1:0"
  ]
  // The shell joins the cgroup, then becomes node: the whole start-up runs under the limit.
  const args =
    cgroup === undefined ? program : ["/bin/sh", "-c", `echo $$ > ${cgroup.procs} && exec "$@"`, "sh", ...program]
  const start = nowMs()
  const child = spawn(args[0]!, args.slice(1), { env, stdio: "ignore" })
  const exited = new Promise((resolve) => child.once("exit", resolve))
  try {
    const deadline = start + 60_000
    while (!fs.existsSync(socket)) {
      if (child.exitCode !== null || nowMs() > deadline) {
        throw new Error(`the driver did not listen (exit ${child.exitCode})`)
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    return nowMs() - start
  } finally {
    child.kill("SIGTERM")
    await exited
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export const measureStartup = async (
  root: string,
  variants: ReadonlyArray<DriverVariant>,
  samples: number,
  millicores = 200
): Promise<StartupResult> => {
  const cgroup = makeCgroup(millicores, `sscsi-bench-${process.pid}`)
  const limited = typeof cgroup === "string" ? undefined : cgroup
  try {
    const rows = []
    for (const variant of variants) {
      const times = async (group: Cgroup | undefined) => {
        const out: Array<number> = []
        for (let i = 0; i < samples; i++) out.push(await startOnce(root, variant, group, i))
        return summarize(out)
      }
      const unthrottled = await times(undefined)
      rows.push(
        limited === undefined
          ? { config: variant.config, unthrottled }
          : { config: variant.config, limited: await times(limited), unthrottled }
      )
    }
    return { cpuLimitMillicores: millicores, method: typeof cgroup === "string" ? cgroup : cgroup.method, rows }
  } finally {
    limited?.remove()
  }
}
