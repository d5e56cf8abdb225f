// Many tiny files through the built driver: 10,000 one-byte files (the default --max-provider-files) publish,
// republish unchanged and republish all changed; prints the time and the driver's peak RSS of each step.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { outcomeOf } from "../support/CsiOutcome.js"
import { kubeletPublish, startStressNode, statusKiB, targetFor, type StressNode } from "../support/StressHarness.js"
import { respondFiles } from "../support/TestProvider.js"

const COUNT = 10_000
const tiny = (tag: string, nested: boolean) =>
  respondFiles(
    Array.from({ length: COUNT }, (_, i) => ({ path: nested ? `d${i % 100}/f${i}` : `f${i}`, contents: tag })),
    [{ id: "x", version: tag }]
  )

let node: StressNode
beforeAll(async () => {
  // Each non-empty file takes a 4 KiB page of the tmpfs: 10,000 take 40 MiB, twice that while a republish stages the
  // new version beside the old; the default --tmpfs-size-limit holds it (src/mount/MountCalls.ts).
  node = await startStressNode()
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

const publish = (target: string, uid: string) =>
  outcomeOf(node.csi().node.nodePublishVolume(kubeletPublish(target, uid)))

/** Publishes once and prints how long it took and the driver's RSS peak so far. */
const measured = async (what: string, target: string, uid: string) => {
  const pid = node.driver().child.pid!
  const started = performance.now()
  const outcome = await publish(target, uid)
  const ms = performance.now() - started
  const rss = `VmRSS ${statusKiB(pid, "VmRSS")} KiB, VmHWM ${statusKiB(pid, "VmHWM")} KiB`
  console.info(`${what}: ${ms.toFixed(0)} ms, driver ${rss}`)
  return outcome
}

describe("10,000 one-byte files through the driver", () => {
  it("in 100 directories: publish, unchanged and changed republish succeed and show every file", async () => {
    const target = targetFor(node.kubelet, "many-1")
    console.info(`driver before: VmHWM ${statusKiB(node.driver().child.pid!, "VmHWM")} KiB`)
    node.provider.onMount(tiny("a", true))
    expect(await measured("nested, first publish", target, "many-1")).toEqual({ ok: true })
    expect(await measured("nested, unchanged republish", target, "many-1")).toEqual({ ok: true })
    node.provider.onMount(tiny("b", true))
    expect(await measured("nested, changed republish", target, "many-1")).toEqual({ ok: true })
    expect(fs.readdirSync(target).filter((n) => !n.startsWith(".."))).toHaveLength(100)
    expect(fs.readFileSync(path.join(target, "d42", "f9942"), "utf8")).toBe("b")
    expect(fs.readdirSync(fs.realpathSync(path.join(target, "d7")))).toHaveLength(COUNT / 100)
  }, 300_000)

  it("all at the top level (10,000 visible links): publish, unchanged and changed republish succeed", async () => {
    const target = targetFor(node.kubelet, "many-2")
    node.provider.onMount(tiny("a", false))
    expect(await measured("flat, first publish", target, "many-2")).toEqual({ ok: true })
    expect(await measured("flat, unchanged republish", target, "many-2")).toEqual({ ok: true })
    node.provider.onMount(tiny("b", false))
    expect(await measured("flat, changed republish", target, "many-2")).toEqual({ ok: true })
    expect(fs.readdirSync(target).filter((n) => !n.startsWith(".."))).toHaveLength(COUNT)
    expect(fs.readFileSync(path.join(target, "f9942"), "utf8")).toBe("b")
  }, 300_000)
})
