// Driver memory: RSS from /proc, idle, with N volumes mounted, and along N publish/unpublish cycles. The driver runs
// with no inspector (it would add its own memory to the figure), so the V8 heap figure is left out.
import type { BenchCounts } from "./config.js"
import { memoryOf } from "./procs.js"
import { publish, unpublish, type Driver, type Rig } from "./rig.js"
import { nowMs, runPool, sampleMs, summarize, type Summary } from "./stats.js"

export interface MemoryPoint {
  readonly label: string
  readonly rssMiB: number
  /** V8 heap in use after a forced GC: undefined, as the memory phase runs no inspector. */
  readonly heapUsedMiB: number | undefined
  readonly heapTotalMiB: number | undefined
}

/** How a phase starts the driver: as shipped (no options), or with the tuning bypassed and flags given. */
export interface DriverVariant {
  readonly config: string
  readonly nodeOptions?: string | undefined
  readonly nodeFlags?: ReadonlyArray<string>
  readonly untuned?: boolean
}

const untunedFlags = (v: DriverVariant) => [
  ...(v.nodeFlags ?? []),
  ...(v.nodeOptions === undefined ? [] : [`NODE_OPTIONS=${v.nodeOptions}`])
]

/** The variant's node flags, as a report prints them. */
export const describeVariant = (v: DriverVariant): string =>
  v.untuned !== true && (v.nodeFlags ?? []).length === 0
    ? `as shipped (the bin entry's own tuning${v.nodeOptions === undefined ? "" : `, NODE_OPTIONS=${v.nodeOptions}`})`
    : `untuned, node ${untunedFlags(v).join(" ") || "(no flags)"}`

export interface MemoryResult {
  readonly config: string
  readonly nodeOptions: string
  readonly idle: MemoryPoint
  readonly withVolumes: MemoryPoint
  readonly volumes: number
  /** No-op republish of one target while the N volumes are mounted (the driver reads the mount table each call). */
  readonly noopWithVolumes: Summary
  readonly cycles: number
  readonly cyclesPerSecond: number
  /** RSS along the cycles: after warm-up first, then every 10 %. */
  readonly trace: ReadonlyArray<MemoryPoint>
  readonly growthPercent: number
  readonly heapGrowthPercent: number | undefined
  readonly peakRssMiB: number
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 500))

const point = async (label: string, driver: Driver): Promise<MemoryPoint> => {
  await settle()
  const { rssMiB } = memoryOf(driver.process.pid)
  return { label, rssMiB, heapUsedMiB: undefined, heapTotalMiB: undefined }
}

/** One driver configuration: idle, N volumes mounted (then unmounted), then N cycles on a few reused targets. */
export const measureMemory = async (
  rig: Rig,
  counts: BenchCounts,
  variant: DriverVariant,
  cycles: number,
  log: (line: string) => void
): Promise<MemoryResult> => {
  const config = variant.config
  const driver = await rig.startDriver({ ...variant, rotationPollInterval: "2m" })
  try {
    const idle = await point("idle", driver)
    const targets = await Promise.all(Array.from({ length: counts.mountedVolumes }, () => rig.newTarget()))
    await runPool(targets.length, 16, (i) => publish(driver.csi, targets[i]!).then(() => undefined))
    const withVolumes = await point(`${targets.length} mounted`, driver)
    log(
      `  ${config}: idle ${idle.rssMiB.toFixed(1)} MiB, ${targets.length} mounted ${withVolumes.rssMiB.toFixed(1)} MiB`
    )
    const one = targets[0]!
    const noopWithVolumes = summarize(await sampleMs({ samples: 100, warmup: 10 }, () => publish(driver.csi, one)))
    await runPool(targets.length, 16, (i) => unpublish(driver.csi, targets[i]!).then(() => rig.release(targets[i]!)))
    rig.forgetRequests()

    // Cycles: 16 workers, each publishing and unpublishing its own target, as pods come and go on a node.
    const workers = 16
    const slots = await Promise.all(Array.from({ length: workers }, () => rig.newTarget()))
    const warmup = Math.max(workers, Math.round(cycles * 0.1))
    const trace: Array<MemoryPoint> = []
    let done = 0
    const runCycles = (n: number) =>
      runPool(n, workers, async (i) => {
        const slot = slots[i % workers]!
        await publish(driver.csi, slot)
        await unpublish(driver.csi, slot)
      })
    const cyclesStart = nowMs()
    await runCycles(warmup)
    done += warmup
    trace.push(await point(`after ${done} (warm-up)`, driver))
    const step = Math.max(1, Math.round((cycles - warmup) / 9))
    while (done < cycles) {
      const n = Math.min(step, cycles - done)
      await runCycles(n)
      done += n
      rig.forgetRequests()
      trace.push(await point(`after ${done}`, driver))
    }
    const cyclesPerSecond = done / ((nowMs() - cyclesStart) / 1000)
    for (const slot of slots) rig.release(slot)
    const first = trace[0]!
    const last = trace[trace.length - 1]!
    log(
      `  ${config}: ${done} cycles (${cyclesPerSecond.toFixed(0)}/s), ` +
        `RSS ${first.rssMiB.toFixed(1)} -> ${last.rssMiB.toFixed(1)} MiB`
    )
    return {
      config,
      nodeOptions: describeVariant(variant),
      idle,
      withVolumes,
      volumes: targets.length,
      noopWithVolumes,
      cycles: done,
      cyclesPerSecond,
      trace,
      growthPercent: ((last.rssMiB - first.rssMiB) / first.rssMiB) * 100,
      heapGrowthPercent:
        first.heapUsedMiB === undefined || last.heapUsedMiB === undefined
          ? undefined
          : ((last.heapUsedMiB - first.heapUsedMiB) / first.heapUsedMiB) * 100,
      peakRssMiB: memoryOf(driver.process.pid).hwmMiB
    }
  } finally {
    await driver.stop()
  }
}
