// A namespace that floods the cluster with SecretProviderClasses cannot take the driver down: the built driver,
// with the DaemonSet's NODE_OPTIONS, lists 200 classes of ~400 KB each (in pages) at its first publish, keeps
// publishing, and its memory stays near what it uses without them; a publish of one of the big classes reads it
// on demand. The numbers are printed for the README.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { eventually } from "../support/ChildProcess.js"
import { deployedMemorySettings } from "../support/Soak.js"
import { kubeletPublish, startStressNode, statusKiB, targetFor, type StressNode } from "../support/StressHarness.js"
import { respondFiles } from "../support/TestProvider.js"

const group = "secrets-store.csi.x-k8s.io"
const collection = `/apis/${group}/v1/secretproviderclasses`
const floodCount = 200

/** ~400 KB of JSON: a 200 KB `objects` parameter and 2,000 parameters of ~100 bytes, in namespace `flood`. */
const floodClass = (i: number) => {
  const parameters: Record<string, string> = { objects: "- objectName: a\n".padEnd(200_000, "#") }
  for (let k = 0; k < 2000; k++) parameters[`p-${k}`] = `${i}:${k}:`.padEnd(90, "v")
  return {
    apiVersion: `${group}/v1`,
    kind: "SecretProviderClass",
    metadata: { name: `flood-${String(i).padStart(3, "0")}`, namespace: "flood" },
    spec: { provider: "test", parameters }
  }
}

const deployed = deployedMemorySettings()
let node: StressNode
beforeAll(async () => {
  node = await startStressNode({ driverEnv: { NODE_OPTIONS: deployed.nodeOptions } })
  node.provider.onMount(respondFiles([{ path: "a", contents: "alpha" }]))
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

const watches = () => node.api.requestsMatching({ method: "GET", path: collection, withQuery: "watch" }).length
const listPages = () => node.api.requestsMatching({ method: "GET", path: collection }).length - watches()

/** Publishes `uid`'s target and checks its file; then waits until the SPC cache has listed and watches. */
const publishAndSync = async (uid: string, watchesBefore: number) => {
  const target = targetFor(node.kubelet, uid)
  await node.csi().node.nodePublishVolume(kubeletPublish(target, uid))
  expect(fs.readFileSync(path.join(target, "a"), "utf8")).toBe("alpha")
  await eventually(() => expect(watches()).toBeGreaterThan(watchesBefore), 120_000, 100)
}

const memory = () => {
  const pid = node.driver().child.pid!
  return { rssKiB: statusKiB(pid, "VmRSS"), peakKiB: statusKiB(pid, "VmHWM") }
}

describe("SecretProviderClass flood (built driver, the DaemonSet's NODE_OPTIONS)", () => {
  it(`${floodCount} classes of ~400 KB: publishes succeed, RSS stays near the driver's without them`, async () => {
    await publishAndSync("base-1", watches())
    const without = memory()

    const floodBytes = Array.from({ length: floodCount }, (_, i) => node.api.seed(floodClass(i))).reduce(
      (sum, o) => sum + JSON.stringify(o).length,
      0
    )
    // Counted before the restart: the new driver's secret sync may start the SPC cache before the first publish.
    const pagesBefore = listPages()
    await node.stopDriver()
    await node.startDriver()
    await publishAndSync("flood-1", watches())
    const target = targetFor(node.kubelet, "flood-2")
    await node.csi().node.nodePublishVolume(kubeletPublish(target, "flood-2"))
    // A pod of the flooding namespace still gets its (uncached, too large) class, read on demand.
    const own = targetFor(node.kubelet, "flood-own")
    await node.csi().node.nodePublishVolume(
      kubeletPublish(own, "flood-own", {
        volumeContext: {
          ...kubeletPublish(own, "flood-own").volumeContext,
          secretProviderClass: "flood-007",
          "csi.storage.k8s.io/pod.namespace": "flood"
        }
      })
    )
    expect(fs.readFileSync(path.join(own, "a"), "utf8")).toBe("alpha")
    const withFlood = memory()
    const pages = listPages() - pagesBefore
    console.info(
      `SPC flood: ${floodCount} classes, ${(floodBytes / 1024 / 1024).toFixed(1)} MiB of JSON, listed in ` +
        `${pages} pages; driver RSS without ${without.rssKiB} KiB (peak ${without.peakKiB}), with ` +
        `${withFlood.rssKiB} KiB (peak ${withFlood.peakKiB}); NODE_OPTIONS=${deployed.nodeOptions}`
    )
    expect(node.driver().child.exitCode).toBeNull()
    expect(pages).toBeGreaterThanOrEqual(floodCount / 5)
    // Generous: the flood's JSON alone is ~80 MiB; the old cache held several times that and ran out of heap.
    expect(withFlood.peakKiB).toBeLessThan(without.peakKiB + 64 * 1024)
    expect(withFlood.rssKiB).toBeLessThan(without.rssKiB + 48 * 1024)
    expect(withFlood.peakKiB).toBeLessThan(deployed.limitKiB)
  }, 300_000)
})
