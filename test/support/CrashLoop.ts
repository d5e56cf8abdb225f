// Crash safety of a rotating target: while kubelet-style republishes stream in (every provider answer is a
// new generation of 100 files), the driver is killed with SIGKILL at a random moment. After each kill the
// target must show exactly one generation, complete, no older than the last acknowledged one; after the
// restart one publish must heal it (no `..<timestamp>` orphans, no `..data_tmp`, newest generation).
import * as fs from "node:fs"
import * as path from "node:path"
import { expect } from "@effect/vitest"
import { outcomeOf } from "./CsiOutcome.js"
import {
  generation,
  generationOf,
  kubeletPublish,
  readThroughData,
  targetFor,
  type StressNode
} from "./StressHarness.js"
import { respondFiles } from "./TestProvider.js"

const FILES = 100
const SIZE = 16 * 1024

export interface CrashStats {
  runs: number
  /** Kills that left a half-written data dir or `..data_tmp` behind (the kill landed inside a write). */
  orphansAfterKill: number
  /** Kills after which the target showed a generation newer than the last acknowledged one. */
  newerThanAcknowledged: number
  republishesAcknowledged: number
}

/** A deterministic PRNG (mulberry32) so a failing run can be replayed from its seed. */
export const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** The generation the target shows, checking it is one complete generation read through one `..data`. */
const singleGeneration = (target: string): number => {
  const files = readThroughData(target)
  expect(Object.keys(files)).toHaveLength(FILES)
  const generations = new Set(Object.values(files).map(generationOf))
  expect([...generations], "files of different generations").toHaveLength(1)
  const [only] = [...generations]
  // The visible links lead into the same data dir.
  expect(fs.readFileSync(path.join(target, "f0"), "utf8")).toBe(files["f0"])
  expect(fs.readFileSync(path.join(target, "dir", "f1"), "utf8")).toBe(files["dir/f1"])
  return only!
}

const leftovers = (target: string): ReadonlyArray<string> => {
  const current = fs.readlinkSync(path.join(target, "..data"))
  return fs.readdirSync(target).filter((n) => n.startsWith("..") && n !== "..data" && n !== current)
}

export const runCrashLoop = async (node: StressNode, runs: number, seed: number): Promise<CrashStats> => {
  const random = prng(seed)
  const stats: CrashStats = { runs: 0, orphansAfterKill: 0, newerThanAcknowledged: 0, republishesAcknowledged: 0 }
  let served = 0
  node.provider.onMount((request, context) => respondFiles(generation(++served, FILES, SIZE))(request, context))
  const target = targetFor(node.kubelet, "crash")
  const publish = () => outcomeOf(node.csi().node.nodePublishVolume(kubeletPublish(target, "crash")))
  expect(await publish()).toEqual({ ok: true })
  let acknowledged = singleGeneration(target)

  for (let run = 0; run < runs; run++) {
    let killed = false
    const stream = (async () => {
      while (!killed) {
        const asked = served
        const outcome = await publish()
        if (outcome.ok && !killed) {
          // The generation this call wrote is at least the one served after it started.
          acknowledged = Math.max(acknowledged, asked + 1)
          stats.republishesAcknowledged++
        }
      }
    })()
    await new Promise((resolve) => setTimeout(resolve, 20 + random() * 600))
    killed = true
    await node.stopDriver("SIGKILL")
    await stream

    const seen = singleGeneration(target)
    expect(seen, `run ${run}: older than acknowledged`).toBeGreaterThanOrEqual(acknowledged)
    expect(seen, `run ${run}: never served`).toBeLessThanOrEqual(served)
    if (seen > acknowledged) stats.newerThanAcknowledged++
    if (leftovers(target).length > 0) stats.orphansAfterKill++

    await node.startDriver()
    expect(await publish()).toEqual({ ok: true })
    expect(leftovers(target), `run ${run}: orphans after the healing publish`).toEqual([])
    acknowledged = singleGeneration(target)
    expect(acknowledged).toBe(served)
    stats.runs++
  }
  return stats
}
