// The run's results: one JSON document (bench/results/<ISO date>.json) and the printed table, with
// the goals judged met or missed (issue 7's latency goals, issue 12's as-shipped memory and floor goals).
import { execFileSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import type { BenchCounts } from "./config.js"
import { renderMatrix, type MatrixRow } from "./flagMatrix.js"
import type { Floor } from "./floor.js"
import type { MemoryResult } from "./memory.js"
import type { ModuleRss } from "./modules.js"
import { repoRoot } from "./procs.js"
import type { ProfileSummary } from "./profile.js"
import type { NoopResult, PayloadResult, ThroughputLevel } from "./publish.js"
import type { StartupResult } from "./startup.js"
import type { Summary } from "./stats.js"

export interface Goal {
  readonly goal: string
  readonly value: string
  readonly met: boolean
  readonly stretch?: { readonly goal: string; readonly met: boolean }
}

export interface Results {
  readonly date: string
  readonly machine: Record<string, unknown>
  readonly counts: BenchCounts
  floor?: Floor
  firstPublish?: Summary
  apiCallsPerFirstPublish?: Record<string, number>
  noop?: NoopResult
  rotating?: Summary
  throughput?: ReadonlyArray<ThroughputLevel>
  memory?: Array<MemoryResult>
  matrix?: ReadonlyArray<MatrixRow>
  startup?: StartupResult
  payload?: Array<PayloadResult>
  profile?: ProfileSummary | { error: string }
  noopProfile?: ProfileSummary | { error: string }
  payloadProfile?: ProfileSummary | { error: string }
  modules?: ReadonlyArray<ModuleRss>
  goals?: ReadonlyArray<Goal>
  errors: Array<string>
  durationSeconds?: number
  leftMounts?: number
}

/** The commit measured, and how many paths of the working tree differ from it (dist/ is built from the tree). */
const gitState = () => {
  try {
    const git = (args: Array<string>) => execFileSync("git", args, { cwd: repoRoot, encoding: "utf8" }).trim()
    return {
      commit: git(["rev-parse", "HEAD"]),
      dirtyPaths: git(["status", "--porcelain"])
        .split("\n")
        .filter((l) => l !== "").length
    }
  } catch {
    return { commit: "unknown" }
  }
}

export const machineInfo = (): Record<string, unknown> => ({
  ...gitState(),
  node: process.version,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  kernel: os.release(),
  totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
  loadavgAtStart: os.loadavg().map((x) => Number(x.toFixed(2)))
})

const ratio = (a: number, b: number) => a / b

/**
 * What a large file adds to a first publish (its p50 less the small publish's) against the least it can add: its
 * plain write plus what it adds to a provider round trip (the provider's Mount of it, straight from the bench, less
 * an empty Version call). Undefined without the latency phase's figures.
 */
export const payloadExtra = (r: Results, p: PayloadResult): number | undefined => {
  if (r.firstPublish === undefined || r.floor === undefined || p.providerMount === undefined) return undefined
  const least = p.plainWrite.median + Math.max(0, p.providerMount.median - r.floor.providerVersion.median)
  return ratio(p.publish.median - r.firstPublish.median, least)
}

export const judgeGoals = (r: Results): Array<Goal> => {
  const goals: Array<Goal> = []
  if (r.floor !== undefined && r.firstPublish !== undefined) {
    const x = ratio(r.firstPublish.median, r.floor.sumMedianMs)
    goals.push({
      goal: "first publish p50 <= 2x floor (mount(2))",
      value: `${x.toFixed(2)}x`,
      met: x <= 2,
      stretch: { goal: "<= 1.5x floor", met: x <= 1.5 }
    })
  }
  if (r.noop !== undefined && r.floor !== undefined) {
    const x = ratio(r.noop.latency.median, r.floor.driverNodeGetInfo.median)
    goals.push({ goal: "no-op republish p50 <= 1.2x empty round trip", value: `${x.toFixed(2)}x`, met: x <= 1.2 })
  }
  if (r.noop !== undefined) {
    const cpu = r.noop.cpuSecondsPer1000
    goals.push({
      goal: "driver CPU per 1,000 no-op republishes <= 0.8 s",
      value: `${cpu.toFixed(2)} s`,
      met: cpu <= 0.8
    })
  }
  for (const p of r.payload ?? []) {
    const x = ratio(p.publish.median, p.plainWrite.median)
    const goal = {
      goal: `first publish of one ${p.label} file <= 3x its plain write`,
      value: `${x.toFixed(1)}x`,
      met: x <= 3
    }
    goals.push(goal)
    const extra = payloadExtra(r, p)
    if (extra !== undefined) {
      goals.push({
        goal: `what one ${p.label} file adds to a publish <= 3x what it adds at least`,
        value: `${extra.toFixed(1)}x`,
        met: extra <= 3
      })
    }
  }
  const levels = r.throughput ?? []
  const one = levels.find((l) => l.concurrency === 1)
  const sixteen = levels.find((l) => l.concurrency === 16)
  if (one !== undefined && sixteen !== undefined) {
    const x = ratio(sixteen.perSecond, one.perSecond)
    goals.push({ goal: "throughput at concurrency 16 >= 1.5x sequential", value: `${x.toFixed(2)}x`, met: x >= 1.5 })
  }
  const shipped = r.memory?.find((m) => m.config === "as shipped")
  if (shipped !== undefined) {
    const idle = shipped.idle.rssMiB
    const full = shipped.withVolumes.rssMiB
    goals.push({ goal: "RSS as shipped <= 64 MiB idle", value: `${idle.toFixed(1)} MiB`, met: idle <= 64 })
    goals.push({
      goal: `RSS as shipped <= 80 MiB with ${shipped.volumes} volumes`,
      value: `${full.toFixed(1)} MiB`,
      met: full <= 80
    })
  }
  const startup = r.startup?.rows.find((row) => row.config === "as shipped")?.limited
  if (startup !== undefined) {
    goals.push({
      goal: `start to socket <= 2 s under ${r.startup!.cpuLimitMillicores}m CPU (p50)`,
      value: `${startup.median.toFixed(0)} ms`,
      met: startup.median <= 2000
    })
  }
  for (const m of r.memory ?? []) {
    goals.push({
      goal: `RSS <= 100 MiB with ${m.volumes} volumes mounted (${m.config})`,
      value: `${m.withVolumes.rssMiB.toFixed(1)} MiB`,
      met: m.withVolumes.rssMiB <= 100,
      stretch: { goal: "<= 64 MiB", met: m.withVolumes.rssMiB <= 64 }
    })
    goals.push({
      goal: `flat RSS over ${m.cycles} cycles, growth < 10% (${m.config})`,
      value: `${m.growthPercent.toFixed(1)}%`,
      met: m.growthPercent < 10
    })
  }
  return goals
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 3 : 1) : "n/a")
const row = (name: string, s: Summary, note = "") =>
  `${name.padEnd(44)} ${String(s.n).padStart(6)} ` +
  `${ms(s.min).padStart(9)} ${ms(s.median).padStart(9)} ${ms(s.p99).padStart(9)}  ${note}`

export const renderTable = (r: Results): string => {
  const lines: Array<string> = []
  lines.push(`secrets-store-csi-ts benchmark ${r.date}${r.counts.quick ? " (BENCH_QUICK)" : ""}`)
  lines.push(`machine: ${JSON.stringify(r.machine)}`)
  lines.push("")
  lines.push(
    `${"latency (ms)".padEnd(44)} ${"n".padStart(6)} ` +
      `${"min".padStart(9)} ${"median".padStart(9)} ${"p99".padStart(9)}  note`
  )
  const f = r.floor
  if (f !== undefined) {
    lines.push(row("floor: driver NodeGetInfo round trip", f.driverNodeGetInfo))
    lines.push(row("  (driver Identity Probe round trip)", f.driverProbe, "info, not in the sum"))
    lines.push(row("floor: provider Version round trip", f.providerVersion))
    lines.push(row("floor: tmpfs mount (mount(2), the addon)", f.tmpfsMount))
    lines.push(row("  (tmpfs mount, execFile mount(8))", f.tmpfsMountCommand, "info, not in the sum"))
    lines.push(row("floor: plain fs write, 3 small files", f.fsWrite))
    lines.push(row("  (fake API server GET SPC, fetch)", f.apiGet, "info, not in the sum"))
    lines.push(
      `${"floor: sum of medians".padEnd(44)} ${"".padStart(6)} ${"".padStart(9)} ${ms(f.sumMedianMs).padStart(9)}`
    )
  }
  if (r.firstPublish !== undefined) {
    lines.push(
      row(
        "first publish, 3 small files",
        r.firstPublish,
        f === undefined ? "" : `p50 = ${(r.firstPublish.median / f.sumMedianMs).toFixed(2)}x floor`
      )
    )
  }
  if (r.apiCallsPerFirstPublish !== undefined) {
    const calls = Object.entries(r.apiCallsPerFirstPublish)
      .map(([k, v]) => `${k} x${v.toFixed(2)}`)
      .join(", ")
    lines.push(`  API server calls per first publish: ${calls}`)
  }
  if (r.noop !== undefined) {
    const vsFloor =
      f === undefined ? "" : `p50 = ${(r.noop.latency.median / f.driverNodeGetInfo.median).toFixed(2)}x empty RT; `
    lines.push(
      row(
        "no-op republish (within poll interval)",
        r.noop.latency,
        `${vsFloor}driver CPU ${r.noop.cpuSecondsPer1000.toFixed(3)} s / 1000 (${r.noop.calls} calls)` +
          (r.noop.emptyCpuSecondsPer1000 === undefined
            ? ""
            : `; empty RT ${r.noop.emptyCpuSecondsPer1000.toFixed(3)} s / 1000`)
      )
    )
  }
  if (r.rotating !== undefined) {
    lines.push(
      row(
        "rotating republish (content changed)",
        r.rotating,
        r.firstPublish === undefined
          ? ""
          : `p50 = ${(r.rotating.median / r.firstPublish.median).toFixed(2)}x first publish`
      )
    )
  }
  for (const p of r.payload ?? []) {
    lines.push(
      row(
        `first publish, one ${p.label} file`,
        p.publish,
        `p50 = ${(p.publish.median / p.plainWrite.median).toFixed(1)}x plain write` +
          (r.firstPublish === undefined ? "" : `; +${ms(p.publish.median - r.firstPublish.median)} ms over small`)
      )
    )
    lines.push(row(`  plain fs write, one ${p.label} file`, p.plainWrite))
    if (p.providerMount !== undefined) {
      const extra = payloadExtra(r, p)
      lines.push(
        row(
          "  provider Mount of it, no driver",
          p.providerMount,
          extra === undefined ? "" : `the file adds ${extra.toFixed(1)}x what it adds at least (write + provider)`
        )
      )
    }
  }
  if (r.throughput !== undefined) {
    lines.push("")
    lines.push(
      `${"throughput (distinct targets)".padEnd(30)} ${"publishes".padStart(9)} ${"seconds".padStart(8)} ` +
        `${"per s".padStart(8)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)}`
    )
    const one = r.throughput.find((l) => l.concurrency === 1)
    for (const l of r.throughput) {
      lines.push(
        `${`concurrency ${l.concurrency}`.padEnd(30)} ${String(l.publishes).padStart(9)} ` +
          `${l.seconds.toFixed(2).padStart(8)} ${l.perSecond.toFixed(1).padStart(8)} ` +
          `${ms(l.latency.median).padStart(8)} ${ms(l.latency.p99).padStart(8)}` +
          (one === undefined ? "" : `  ${(l.perSecond / one.perSecond).toFixed(2)}x c=1`)
      )
    }
  }
  for (const m of r.memory ?? []) {
    lines.push("")
    lines.push(`memory, ${m.config}: ${m.nodeOptions}; RSS from /proc`)
    const heap = (p: { heapUsedMiB: number | undefined }) =>
      p.heapUsedMiB === undefined ? "n/a" : p.heapUsedMiB.toFixed(1)
    for (const p of [m.idle, m.withVolumes, ...m.trace]) {
      lines.push(
        `  ${p.label.padEnd(28)} RSS ${p.rssMiB.toFixed(1).padStart(6)} MiB   ` +
          `heap used after GC ${heap(p).padStart(6)} MiB`
      )
    }
    lines.push(
      `  no-op republish with ${m.volumes} mounted: p50 ${ms(m.noopWithVolumes.median)} ms, ` +
        `p99 ${ms(m.noopWithVolumes.p99)} ms (n=${m.noopWithVolumes.n})`
    )
    lines.push(`  ${m.cycles} publish/unpublish cycles (16 in flight) at ${m.cyclesPerSecond.toFixed(0)} cycles/s`)
    lines.push(
      `  RSS growth after warm-up -> end: ${m.growthPercent.toFixed(1)}%; ` +
        `heap growth: ${m.heapGrowthPercent?.toFixed(1) ?? "n/a"}%; peak RSS (VmHWM) ${m.peakRssMiB.toFixed(1)} MiB`
    )
  }
  if (r.matrix !== undefined) {
    lines.push("")
    lines.push(
      `V8 flag matrix: RSS idle and with ${r.matrix[0]?.volumes ?? "N"} volumes, p50 latencies in ms, ` +
        "driver CPU per 1,000 no-ops"
    )
    lines.push(...renderMatrix(r.matrix).map((l) => `  ${l}`))
  }
  if (r.startup !== undefined) {
    lines.push("")
    lines.push(`start-up, spawn to CSI socket (ms; ${r.startup.method})`)
    for (const row of r.startup.rows) {
      const limited = row.limited === undefined ? "n/a" : `p50 ${ms(row.limited.median)} p99 ${ms(row.limited.p99)}`
      lines.push(
        `  ${row.config.padEnd(44)} ${r.startup.cpuLimitMillicores}m CPU: ${limited.padEnd(24)} ` +
          `unthrottled: p50 ${ms(row.unthrottled.median)}`
      )
    }
  }
  if (r.goals !== undefined) {
    lines.push("")
    lines.push("goals")
    for (const g of r.goals) {
      lines.push(
        `  [${g.met ? "met   " : "MISSED"}] ${g.goal.padEnd(58)} ${g.value}` +
          (g.stretch === undefined ? "" : `   stretch ${g.stretch.goal}: ${g.stretch.met ? "met" : "missed"}`)
      )
    }
  }
  for (const p of [r.profile, r.noopProfile, r.payloadProfile]) {
    if (p === undefined) continue
    lines.push("")
    if ("error" in p) lines.push(`cpu profile: failed: ${p.error}`)
    else {
      lines.push(
        `driver CPU profile (inspector, after warm-up) over ${p.publishes} ${p.what}: ` +
          `${p.totalMs.toFixed(0)} ms sampled (idle excluded)`
      )
      lines.push("  self time by package:")
      for (const x of p.byPackage.slice(0, 10))
        lines.push(`    ${x.percent.toFixed(1).padStart(5)}%  ${x.ms.toFixed(0).padStart(6)} ms  ${x.name}`)
      lines.push("  inclusive time by driver file (synchronous stacks only):")
      for (const x of p.inclusiveByDriverFile.slice(0, 10))
        lines.push(`    ${x.percent.toFixed(1).padStart(5)}%  ${x.ms.toFixed(0).padStart(6)} ms  ${x.name}`)
      lines.push("  top self-time functions:")
      for (const x of p.topFunctions)
        lines.push(`    ${x.percent.toFixed(1).padStart(5)}%  ${x.ms.toFixed(0).padStart(6)} ms  ${x.name}`)
    }
  }
  if (r.modules !== undefined) {
    lines.push("")
    lines.push("RSS of a fresh node loading only (no NODE_OPTIONS):")
    for (const m of r.modules)
      lines.push(
        `  ${m.rssMiB.toFixed(1).padStart(6)} MiB RSS  ${m.heapUsedMiB.toFixed(1).padStart(5)} MiB heap  ${m.label}`
      )
  }
  for (const e of r.errors) lines.push(`ERROR: ${e}`)
  if (r.durationSeconds !== undefined)
    lines.push(`\ntotal ${r.durationSeconds.toFixed(0)} s; mounts left behind: ${r.leftMounts ?? "?"}`)
  return lines.join("\n")
}

export const writeResults = async (r: Results, dir: string): Promise<string> => {
  await fs.mkdir(dir, { recursive: true })
  const file = path.join(dir, `${r.date.replace(/:/g, "-")}.json`)
  await fs.writeFile(file, `${JSON.stringify(r, null, 2)}\n`)
  return file
}
