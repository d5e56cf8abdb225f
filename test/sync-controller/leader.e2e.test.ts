// End to end: two built controllers with --leader-elect on one Lease. Only the holder syncs; a clean stop
// releases the Lease and the standby takes over at once.
import { afterEach, describe, expect, it } from "vitest"
import { eventually } from "../support/ChildProcess.js"
import { metricsOf, metricSum, secretOf, secretSync, spc, startWorld, type World } from "./world.js"

let world: World | undefined
afterEach(async () => {
  await world?.close()
  world = undefined
})

const election = ["--leader-elect", "--leader-election-namespace=kube-system"]
const syncs = async (c: Parameters<typeof metricsOf>[0]) => metricSum(await metricsOf(c), "secretsync_sync_total")
const leader = async (c: Parameters<typeof metricsOf>[0]) => metricSum(await metricsOf(c), "secretsync_leader")

describe("secrets-store-sync-controller leader election (built, end to end)", () => {
  it("only the Lease holder syncs; the standby takes over when the holder stops", async () => {
    const w = (world = await startWorld())
    w.api.seed(spc())
    w.api.seed(secretSync("db"))
    const a = await w.startController(election)
    await eventually(() => secretOf(w.api, "db") ?? Promise.reject(new Error("no secret")), 30_000)
    await eventually(async () => expect(await leader(a)).toBe(1), 20_000)
    const b = await w.startController(election)
    await eventually(
      () =>
        expect(b.output()).toMatch(/attempting to acquire leader lease kube-system\/29f1d54e\.secret-sync\.x-k8s\.io/),
      20_000
    )
    w.api.seed(secretSync("second"))
    await eventually(() => secretOf(w.api, "second") ?? Promise.reject(new Error("no second secret")), 30_000)
    expect(await leader(b)).toBe(0)
    expect(await syncs(b)).toBe(0)
    await a.stop("SIGTERM")
    await eventually(async () => expect(await leader(b)).toBe(1), 30_000)
    await eventually(async () => expect(await syncs(b)).toBeGreaterThanOrEqual(2), 30_000)
  })
})
