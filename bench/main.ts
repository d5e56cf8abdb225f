// `npm run bench`: one run of every figure against the built driver as shipped (its bin entry, no NODE_OPTIONS),
// the V8 flag matrix and start-up under the DaemonSet's CPU limit, printed as a table and
// written to bench/results/<ISO date>.json. The driver is src/ compiled afresh into bench/.build/snapshot
// (BENCH_REF=<git ref> builds a commit instead; BENCH_USE_DIST=1 runs the repository's dist/ as it is). Every tmpfs
// it mounts and every child it starts is cleaned up in a finally (and on SIGINT/SIGTERM). BENCH_QUICK=1 for a smoke
// run; see config.ts.
import * as path from "node:path"
import { benchCounts, profileEnabled } from "./config.js"
import { measureFlagMatrix } from "./flagMatrix.js"
import { measureFloor } from "./floor.js"
import { measureMemory, type DriverVariant } from "./memory.js"
import { measureModuleRss } from "./modules.js"
import { profileFirstPublishes, profileLargePublishes, profileNoopRepublishes } from "./profile.js"
import { memoryOf, repoRoot, stopAllChildren, unmountAllUnder } from "./procs.js"
import {
  measureFirstPublish,
  measureNoopRepublish,
  measurePayload,
  measureRotatingRepublish,
  measureThroughput
} from "./publish.js"
import { judgeGoals, machineInfo, renderTable, writeResults, type Results } from "./report.js"
import { Rig, type Driver } from "./rig.js"
import { buildSnapshot } from "./snapshot.js"
import { measureStartup } from "./startup.js"
import { nowMs } from "./stats.js"

/** Fake API server requests per publish, by method and kind of path (what a first publish costs the API server). */
const apiCallsPer = (r: Rig, publishes: number): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const q of r.api.requests) {
    const route = q.path
      .replace(/\/namespaces\/[^/]+/, "/namespaces/*")
      .replace(/\/(secretproviderclasses|secretproviderclasspodstatuses|pods|events)\/[^/]+$/, "/$1/*")
    const key = `${q.method} ${route}`
    out[key] = (out[key] ?? 0) + 1
  }
  return Object.fromEntries(Object.entries(out).map(([k, n]) => [k, Math.round((n / publishes) * 100) / 100]))
}

const log = (line: string) => process.stderr.write(`${line}\n`)

const results: Results = { date: new Date().toISOString(), machine: machineInfo(), counts: benchCounts(), errors: [] }
const counts = results.counts
/** The driver as operators run it: the bin entry, which applies its own tuning, with no NODE_OPTIONS. */
const shipped: DriverVariant = { config: "as shipped" }
let rig: Rig | undefined

/** BENCH_ONLY=latency,rotating,memory,matrix,startup,payload,profile,modules runs only those phases. */
const only = (process.env["BENCH_ONLY"] ?? "").split(",").filter((x) => x !== "")

/** Runs one phase; a failure is recorded and the run goes on with the next phase. */
const phase = async (id: string, name: string, body: () => Promise<void>) => {
  if (only.length > 0 && !only.includes(id)) return
  const start = nowMs()
  log(`[bench] ${name}...`)
  try {
    await body()
  } catch (error) {
    results.errors.push(`${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    log(`[bench] ${name} FAILED: ${String(error)}`)
  }
  log(`[bench] ${name} done in ${((nowMs() - start) / 1000).toFixed(1)} s`)
}

const withDriver = async (options: Parameters<Rig["startDriver"]>[0], use: (d: Driver) => Promise<void>) => {
  const driver = await rig!.startDriver(options)
  try {
    await use(driver)
  } catch (error) {
    log(driver.process.tail().slice(-2000))
    throw error
  } finally {
    await driver.stop()
  }
}

const cleanup = async () => {
  await stopAllChildren()
  if (rig !== undefined) {
    const { leftMounts } = await rig.stop()
    results.leftMounts = leftMounts
    rig = undefined
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`[bench] ${signal}: cleaning up`)
    void cleanup().finally(() => process.exit(130))
  })
}

const main = async () => {
  const start = nowMs()
  log(`[bench] ${counts.quick ? "BENCH_QUICK run" : "full run"}; the driver as shipped (bin entry, no NODE_OPTIONS)`)
  try {
    if (process.env["BENCH_USE_DIST"] === "1") log("[bench] using the repository's dist/ as it is")
    else {
      const built = await buildSnapshot(process.env["BENCH_REF"] || undefined)
      results.machine["driverSource"] = built
      log(`[bench] driver under test: ${built}, built into bench/.build/snapshot`)
    }
    rig = await Rig.start()
    const mountRoot = rig.root
    await phase("latency", "floor, first publish, no-op republish, throughput (as shipped, poll interval 2m)", () =>
      withDriver({ rotationPollInterval: "2m" }, async (driver) => {
        results.machine["driverIdleRssMiBNoPprof"] = memoryOf(driver.process.pid).rssMiB
        results.floor = await measureFloor(rig!, driver, counts)
        rig!.forgetRequests()
        results.firstPublish = await measureFirstPublish(rig!, driver, counts.firstPublishSamples, counts.warmup)
        results.apiCallsPerFirstPublish = apiCallsPer(rig!, counts.firstPublishSamples + counts.warmup)
        results.noop = await measureNoopRepublish(rig!, driver, counts)
        results.throughput = await measureThroughput(rig!, driver, counts)
        results.machine["driverRssAfterLatencyPhasesMiB"] = memoryOf(driver.process.pid).rssMiB
      })
    )
    await phase("rotating", "rotating republish (as shipped, poll interval 0s)", () =>
      withDriver({ rotationPollInterval: "0s" }, async (driver) => {
        results.rotating = await measureRotatingRepublish(rig!, driver, counts)
      })
    )
    results.memory = []
    const memoryConfigs = [
      [shipped, counts.cycles],
      [{ config: "untuned (no flags)", untuned: true }, counts.cyclesUncapped]
    ] as const
    for (const [variant, cycles] of memoryConfigs) {
      await phase("memory", `memory (${variant.config}, ${cycles} cycles)`, async () => {
        results.memory!.push(await measureMemory(rig!, counts, variant, cycles, log))
      })
    }
    await phase("matrix", `V8 flag matrix (${counts.mountedVolumes} volumes each)`, async () => {
      results.matrix = await measureFlagMatrix(rig!, counts, log)
    })
    await phase("startup", "start-up to the CSI socket, under a 200m CPU limit and unthrottled", async () => {
      results.startup = await measureStartup(
        rig!.root,
        [
          shipped,
          {
            config: "untuned, DaemonSet's old NODE_OPTIONS",
            untuned: true,
            nodeOptions: "--max-old-space-size=96 --max-semi-space-size=1 --jitless"
          },
          { config: "untuned (no flags)", untuned: true }
        ],
        counts.startupSamples
      )
    })
    await phase("payload", "payload size (as shipped, --max-call-recv-msg-size=16MiB)", async () => {
      const sizes = [
        ["1 MiB", 2 ** 20],
        ["4 MiB", 4 * 2 ** 20]
      ] as const
      const big = sizes.map(([label, bytes]) => ({ label, name: `big-${bytes}`, contents: "s".repeat(bytes) }))
      await rig!.writeStore(1, big)
      for (const b of big) rig!.seedClass(`bench-${b.name}`, [b.name])
      try {
        const extraArgs = [`--max-call-recv-msg-size=${16 * 2 ** 20}`]
        await withDriver({ rotationPollInterval: "2m", extraArgs }, async (driver) => {
          results.payload = []
          for (const b of big)
            results.payload.push(await measurePayload(rig!, driver, counts, b.label, `bench-${b.name}`, b.contents))
        })
        if (profileEnabled()) {
          const b = big[0]!
          results.payloadProfile = await profileLargePublishes(
            rig!,
            b.label,
            `bench-${b.name}`,
            counts.payloadSamples * 4,
            extraArgs
          ).catch((e: unknown) => ({ error: String(e) }))
        }
      } finally {
        await rig!.writeStore(1)
      }
    })
    if (profileEnabled()) {
      await phase("profile", "CPU profile of first publishes (inspector)", async () => {
        results.profile = await profileFirstPublishes(rig!, counts.profilePublishes, counts.warmup).catch(
          (e: unknown) => ({ error: String(e) })
        )
      })
      await phase("profile", "CPU profile of no-op republishes (inspector)", async () => {
        results.noopProfile = await profileNoopRepublishes(rig!, counts.profilePublishes * 4, counts.warmup).catch(
          (e: unknown) => ({ error: String(e) })
        )
      })
    }
    await phase("modules", "RSS of module sets", async () => {
      results.modules = await measureModuleRss()
    })
    if ((await unmountAllUnder(mountRoot)) > 0) results.errors.push("some mounts could not be removed")
  } catch (error) {
    results.errors.push(`setup: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  } finally {
    await cleanup()
  }
  results.goals = judgeGoals(results)
  results.durationSeconds = (nowMs() - start) / 1000
  results.machine["loadavgAtEnd"] = (await import("node:os")).loadavg().map((x) => Number(x.toFixed(2)))
  const file = await writeResults(results, path.join(repoRoot, "bench", "results"))
  process.stdout.write(`${renderTable(results)}\n`)
  log(`[bench] results written to ${path.relative(repoRoot, file)}`)
  if (results.errors.length > 0) process.exitCode = 1
}

await main()
