// The V8 flag matrix behind src/platform/RuntimeTuning.ts: the driver as shipped, then with its tuning bypassed and
// each candidate flag set on the command line. Per candidate: RSS idle and with N volumes mounted, first publish
// and no-op republish p50, the driver's CPU per 1,000 no-ops, and the time from spawn to a CSI Probe answer.
import type { BenchCounts } from "./config.js"
import type { DriverVariant } from "./memory.js"
import { cpuSeconds, memoryOf } from "./procs.js"
import { measureFirstPublish } from "./publish.js"
import { publish, unpublish, type Rig } from "./rig.js"
import { nowMs, runPool, sampleMs, summarize } from "./stats.js"

const caps = ["--max-old-space-size=96", "--max-semi-space-size=1"]

/** The candidates; the first is what ships. */
export const flagCandidates: ReadonlyArray<DriverVariant> = [
  { config: "as shipped" },
  { config: "no flags", untuned: true },
  { config: "heap caps", nodeFlags: caps },
  { config: "caps --jitless", nodeFlags: [...caps, "--jitless"] },
  { config: "caps --no-opt", nodeFlags: [...caps, "--no-opt"] },
  { config: "caps --no-opt --no-maglev", nodeFlags: [...caps, "--no-opt", "--no-maglev"] },
  { config: "caps --max-lazy", nodeFlags: [...caps, "--max-lazy"] },
  { config: "caps --lite-mode", nodeFlags: [...caps, "--lite-mode"] },
  { config: "caps --jitless --max-lazy", nodeFlags: [...caps, "--jitless", "--max-lazy"] },
  // Sparkplug only (baseline code, no optimizing tier), with V8's size heuristics.
  {
    config: "caps sparkplug-only small",
    nodeFlags: [...caps, "--no-opt", "--no-maglev", "--max-lazy", "--optimize-for-size"]
  },
  { config: "caps --max-lazy small", nodeFlags: [...caps, "--max-lazy", "--optimize-for-size"] }
]

export interface MatrixRow {
  readonly config: string
  readonly flags: string
  readonly startMs: number
  readonly idleRssMiB: number
  readonly volumes: number
  readonly volumesRssMiB: number
  readonly firstPublishP50Ms: number
  readonly noopP50Ms: number
  readonly cpuSecondsPer1000Noops: number
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 500))

const one = async (rig: Rig, counts: BenchCounts, variant: DriverVariant): Promise<MatrixRow> => {
  const started = nowMs()
  const driver = await rig.startDriver({ ...variant, rotationPollInterval: "2m" })
  const startMs = nowMs() - started
  try {
    await settle()
    const idleRssMiB = memoryOf(driver.process.pid).rssMiB
    const first = await measureFirstPublish(rig, driver, counts.firstPublishSamples, counts.warmup)
    const t = await rig.newTarget()
    await publish(driver.csi, t)
    for (let i = 0; i < counts.warmup * 5; i++) await publish(driver.csi, t)
    const cpuBefore = cpuSeconds(driver.process.pid)
    const noop = summarize(await sampleMs({ samples: counts.noopCalls, warmup: 0 }, () => publish(driver.csi, t)))
    const cpu = cpuSeconds(driver.process.pid) - cpuBefore
    await unpublish(driver.csi, t)
    rig.release(t)
    const targets = await Promise.all(Array.from({ length: counts.mountedVolumes }, () => rig.newTarget()))
    await runPool(targets.length, 16, (i) => publish(driver.csi, targets[i]!).then(() => undefined))
    await settle()
    const volumesRssMiB = memoryOf(driver.process.pid).rssMiB
    await runPool(targets.length, 16, (i) => unpublish(driver.csi, targets[i]!).then(() => rig.release(targets[i]!)))
    rig.forgetRequests()
    return {
      config: variant.config,
      flags:
        variant.untuned === true || (variant.nodeFlags ?? []).length > 0
          ? (variant.nodeFlags ?? []).join(" ")
          : "(bin entry)",
      startMs,
      idleRssMiB,
      volumes: targets.length,
      volumesRssMiB,
      firstPublishP50Ms: first.median,
      noopP50Ms: noop.median,
      cpuSecondsPer1000Noops: (cpu * 1000) / counts.noopCalls
    }
  } finally {
    await driver.stop()
  }
}

export const measureFlagMatrix = async (
  rig: Rig,
  counts: BenchCounts,
  log: (line: string) => void
): Promise<Array<MatrixRow>> => {
  const rows: Array<MatrixRow> = []
  for (const candidate of flagCandidates) {
    const row = await one(rig, counts, candidate)
    log(
      `  ${row.config}: idle ${row.idleRssMiB.toFixed(1)} MiB, ` +
        `${row.volumes} mounted ${row.volumesRssMiB.toFixed(1)} MiB`
    )
    rows.push(row)
  }
  return rows
}

export const renderMatrix = (rows: ReadonlyArray<MatrixRow>): Array<string> => {
  const head =
    `${"V8 flags (driver)".padEnd(28)} ${"start ms".padStart(8)} ${"idle MiB".padStart(8)} ` +
    `${"N vol MiB".padStart(9)} ${"1st p50".padStart(8)} ${"noop p50".padStart(8)} ${"CPU s/1k".padStart(8)}  flags`
  return [
    head,
    ...rows.map(
      (r) =>
        `${r.config.padEnd(28)} ${r.startMs.toFixed(0).padStart(8)} ${r.idleRssMiB.toFixed(1).padStart(8)} ` +
        `${r.volumesRssMiB.toFixed(1).padStart(9)} ${r.firstPublishP50Ms.toFixed(2).padStart(8)} ` +
        `${r.noopP50Ms.toFixed(3).padStart(8)} ${r.cpuSecondsPer1000Noops.toFixed(3).padStart(8)}  ${r.flags}`
    )
  ]
}
