// Soak, long form: 10,000 publish/unpublish cycles through the real driver, with the NODE_OPTIONS of
// manifests/base/daemonset.yaml. Zero leaked mounts; driver RSS and V8 heap (sampled after a forced GC through
// Node's --inspect, which the test adds to NODE_OPTIONS) grow less than 10% between cycle 1,000 and the end; open
// descriptors flat; peak RSS below the container's memory limit. Part of `npm test` (a few minutes).
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { freePort } from "../support/Inspector.js"
import { deployedMemorySettings, growth, runSoak } from "../support/Soak.js"
import { mountsUnder, startStressNode, type StressNode } from "../support/StressHarness.js"

const deployed = deployedMemorySettings()
let node: StressNode
let port: number
beforeAll(async () => {
  port = await freePort()
  node = await startStressNode({
    // With the node cache on: each cycle replaces the one entry of its key, so memory must stay flat.
    classAnnotations: { "secrets-store.csi.k8s.io/node-cache-max-staleness": "1h" },
    driverEnv: { NODE_OPTIONS: `${deployed.nodeOptions} --inspect=127.0.0.1:${port}`.trim() }
  })
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

describe("soak (stress), with the deployment's NODE_OPTIONS", () => {
  it("10,000 cycles: no leaked mount; RSS and heap growth < 10% from cycle 1,000 to the end", async () => {
    const samples = await runSoak(node, 10_000, 500, port)
    console.info(`soak 10000 (NODE_OPTIONS=${deployed.nodeOptions}): ${JSON.stringify(samples)}`)
    expect(mountsUnder(node.base)).toEqual([])
    expect(growth(samples, 1000, (s) => s.rssKiB)).toBeLessThan(0.1)
    expect(growth(samples, 1000, (s) => s.heapKiB!)).toBeLessThan(0.1)
    expect(samples.at(-1)!.fds - samples.find((s) => s.cycle === 1000)!.fds).toBeLessThan(20)
    expect(samples.at(-1)!.peakKiB).toBeLessThan(deployed.limitKiB)
  }, 3_600_000)
})
