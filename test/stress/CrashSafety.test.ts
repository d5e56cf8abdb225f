// Crash safety, short form (5 kills; the 50-kill run is CrashSafety.stress.test.ts): SIGKILL of the driver
// during a stream of rotating republishes never leaves a mixed or partial target, and the next publish heals.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { runCrashLoop } from "../support/CrashLoop.js"
import { startStressNode, type StressNode } from "../support/StressHarness.js"

let node: StressNode
beforeAll(async () => {
  node = await startStressNode()
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

describe("kill -9 during rotating republishes", () => {
  it("5 kills: old or new generation, never a mix; the next publish heals the layout", async () => {
    const stats = await runCrashLoop(node, 5, 7)
    expect(stats.runs).toBe(5)
    expect(stats.republishesAcknowledged).toBeGreaterThan(0)
  }, 180_000)
})
