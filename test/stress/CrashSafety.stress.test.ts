// Crash safety, long form: 50 SIGKILLs of the driver at random moments during rotating republishes (see
// test/support/CrashLoop.ts for what is checked after each). Part of `npm test` (about two minutes).
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

describe("kill -9 during rotating republishes (stress)", () => {
  it("50 kills: old or new generation, never a mix; the next publish heals the layout", async () => {
    const stats = await runCrashLoop(node, 50, 20_260_427)
    console.info(`crash loop: ${JSON.stringify(stats)}`)
    expect(stats.runs).toBe(50)
    // The random kill moments must really land inside writes now and then, or the test proves little.
    expect(stats.orphansAfterKill + stats.newerThanAcknowledged).toBeGreaterThan(0)
  }, 1_200_000)
})
