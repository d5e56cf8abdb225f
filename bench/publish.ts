// Publish latencies and throughput through the real driver: first publish on fresh targets, no-op
// republish within the poll interval (with the driver's CPU per 1,000), rotating republish, publishes
// per second at several concurrencies, and large files through a first publish.
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { BenchCounts } from "./config.js"
import { withScratchTmpfs, writePlain } from "./floor.js"
import { cpuSeconds } from "./procs.js"
import { publish, unpublish, type Driver, type Rig, type Target } from "./rig.js"
import { nowMs, runPool, sampleMs, summarize, timeOnce, type Summary } from "./stats.js"

/** Each sample on a fresh target; unpublished (untimed) after it. */
export const measureFirstPublish = async (
  rig: Rig,
  driver: Driver,
  samples: number,
  warmup: number,
  spcName?: string
) => {
  let current: Target | undefined
  return summarize(
    await sampleMs(
      {
        samples,
        warmup,
        before: async () => {
          current = await rig.newTarget(spcName)
        },
        after: async () => {
          await unpublish(driver.csi, current!)
          rig.release(current!)
        }
      },
      () => publish(driver.csi, current!, spcName)
    )
  )
}

export interface NoopResult {
  readonly latency: Summary
  readonly cpuSecondsPer1000: number
  /** The driver's CPU per 1,000 empty round trips (NodeGetInfo), measured beside: what the CSI edge costs alone. */
  readonly emptyCpuSecondsPer1000?: number
  readonly calls: number
}

/** Republishes of one mounted target within the poll interval: the driver must answer without work. */
export const measureNoopRepublish = async (rig: Rig, driver: Driver, counts: BenchCounts): Promise<NoopResult> => {
  const t = await rig.newTarget()
  await publish(driver.csi, t)
  try {
    for (let i = 0; i < counts.warmup * 5; i++) await publish(driver.csi, t)
    const emptyBefore = cpuSeconds(driver.process.pid)
    for (let i = 0; i < counts.noopCalls; i++) await driver.csi.node.nodeGetInfo({})
    const emptyCpu = cpuSeconds(driver.process.pid) - emptyBefore
    const cpuBefore = cpuSeconds(driver.process.pid)
    const samples = await sampleMs({ samples: counts.noopCalls, warmup: 0 }, () => publish(driver.csi, t))
    const cpu = cpuSeconds(driver.process.pid) - cpuBefore
    return {
      latency: summarize(samples),
      cpuSecondsPer1000: (cpu * 1000) / counts.noopCalls,
      emptyCpuSecondsPer1000: (emptyCpu * 1000) / counts.noopCalls,
      calls: counts.noopCalls
    }
  } finally {
    await unpublish(driver.csi, t)
    rig.release(t)
  }
}

/** Republishes with the store changed before each (untimed): every call fetches and rewrites. Needs interval 0s. */
export const measureRotatingRepublish = async (rig: Rig, driver: Driver, counts: BenchCounts): Promise<Summary> => {
  const t = await rig.newTarget()
  let version = 100
  await publish(driver.csi, t)
  try {
    const samples = await sampleMs(
      {
        samples: counts.rotatingSamples,
        warmup: counts.warmup,
        before: () => rig.writeStore(++version)
      },
      () => publish(driver.csi, t)
    )
    const written = await fs.readFile(path.join(t.target, "db-password"), "utf8")
    if (written !== `hunter2-${version}`)
      throw new Error(`rotating republish did not rotate: ${written} != hunter2-${version}`)
    return summarize(samples)
  } finally {
    await unpublish(driver.csi, t)
    rig.release(t)
    await rig.writeStore(1)
  }
}

export interface ThroughputLevel {
  readonly concurrency: number
  readonly publishes: number
  readonly seconds: number
  readonly perSecond: number
  /** Latency of each publish while the level ran. */
  readonly latency: Summary
}

/** `publishes` first publishes on distinct targets, `concurrency` in flight; unpublished afterwards (untimed). */
export const measureThroughput = async (
  rig: Rig,
  driver: Driver,
  counts: BenchCounts
): Promise<Array<ThroughputLevel>> => {
  const levels: Array<ThroughputLevel> = []
  for (const concurrency of counts.concurrencyLevels) {
    const total = Math.max(counts.throughputPublishes, concurrency * 2)
    const targets = await Promise.all(Array.from({ length: total }, () => rig.newTarget()))
    const latencies: Array<number> = []
    const start = nowMs()
    await runPool(total, concurrency, async (i) => {
      latencies.push(await timeOnce(() => publish(driver.csi, targets[i]!)))
    })
    const seconds = (nowMs() - start) / 1000
    await runPool(total, 16, (i) => unpublish(driver.csi, targets[i]!).then(() => rig.release(targets[i]!)))
    rig.forgetRequests()
    levels.push({ concurrency, publishes: total, seconds, perSecond: total / seconds, latency: summarize(latencies) })
  }
  return levels
}

export interface PayloadResult {
  readonly label: string
  readonly bytes: number
  readonly publish: Summary
  readonly plainWrite: Summary
  /** The provider's Mount of the same object, called straight from the bench: transport and provider, no driver. */
  readonly providerMount?: Summary
}

/** A first publish of one large file against a plain mkdir + writeFile + chmod of the same bytes on a tmpfs. */
export const measurePayload = async (
  rig: Rig,
  driver: Driver,
  counts: BenchCounts,
  label: string,
  spcName: string,
  contents: string
): Promise<PayloadResult> => {
  const bytes = Buffer.from(contents)
  const publishLatency = await measureFirstPublish(
    rig,
    driver,
    counts.payloadSamples,
    Math.min(3, counts.warmup),
    spcName
  )
  const plain = await withScratchTmpfs(rig, `payload-${label}`, (scratch) =>
    sampleMs(
      {
        samples: counts.payloadSamples,
        warmup: Math.min(3, counts.warmup),
        after: (i) => fs.rm(path.join(scratch, String(i)), { recursive: true })
      },
      (i) => writePlain(path.join(scratch, String(i)), [{ path: "big", contents: bytes, mode: 0o644 }])
    )
  )
  const provider = rig.providerClient(64 * 2 ** 20)
  const objects = `- objectName: ${spcName.replace(/^bench-/, "")}\n`
  const mount = await sampleMs({ samples: counts.payloadSamples, warmup: Math.min(3, counts.warmup) }, () =>
    provider.client
      .mount({ attributes: JSON.stringify({ objects }), secrets: "null", targetPath: "/bench", permission: "420" })
      .then(() => undefined)
  ).finally(() => provider.close())
  return {
    label,
    bytes: Buffer.byteLength(contents),
    publish: publishLatency,
    plainWrite: summarize(plain),
    providerMount: summarize(mount)
  }
}
