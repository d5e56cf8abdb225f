// Soak, short form: 500 publish/unpublish cycles through the real driver, run with the NODE_OPTIONS of
// manifests/base/daemonset.yaml (the 10,000-cycle run is Soak.stress.test.ts). Zero leaked mounts; retained
// memory (sampled after a forced GC through the --enable-pprof inspector) and open descriptors flat after
// warm-up; peak RSS below the container's memory limit.
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
    driverArgs: ["--enable-pprof", `--pprof-port=${port}`],
    driverEnv: { NODE_OPTIONS: deployed.nodeOptions }
  })
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

describe("soak (short), with the deployment's NODE_OPTIONS", () => {
  it("500 cycles: no leaked mount; after GC heap and RSS grow < 15% from cycle 100; peak RSS under the limit", async () => {
    expect(deployed.nodeOptions).toContain("--max-old-space-size")
    const samples = await runSoak(node, 500, 50, port)
    console.info(`soak 500 (NODE_OPTIONS=${deployed.nodeOptions}): ${JSON.stringify(samples)}`)
    expect(mountsUnder(node.base)).toEqual([])
    // Short runs are noisier than the 10,000-cycle one (which holds the 10% bound).
    expect(growth(samples, 100, (s) => s.heapKiB!)).toBeLessThan(0.15)
    expect(growth(samples, 100, (s) => s.rssKiB)).toBeLessThan(0.15)
    expect(samples.at(-1)!.fds - samples.find((s) => s.cycle === 100)!.fds).toBeLessThan(20)
    expect(samples.at(-1)!.peakKiB).toBeLessThan(deployed.limitKiB)
  }, 300_000)
})
