// SIGTERM to the built driver right after kubelet cancelled a publish in the middle of writing a large payload:
// gRPC has no call left to drain, but the cancelled publish is still cleaning up (removing what it wrote, rolling
// back its tmpfs). The driver waits for that cleanup, then exits 0: no mount and no half-written files are left.
import * as fs from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { eventually } from "../support/ChildProcess.js"
import { outcomeOf } from "../support/CsiOutcome.js"
import { kubeletPublish, mountsUnder, startStressNode, targetFor, type StressNode } from "../support/StressHarness.js"
import { respondFiles } from "../support/TestProvider.js"

// Just under the driver's default --max-provider-files, so writing them takes a while.
const FILES = 9_000

let node: StressNode
beforeAll(async () => {
  node = await startStressNode()
  node.provider.onMount(respondFiles(Array.from({ length: FILES }, (_, i) => ({ path: `f${i}`, contents: `v${i}` }))))
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

describe("SIGTERM while a cancelled publish cleans up", () => {
  it("the driver exits 0 only after the cancelled publish removed its files and its tmpfs", async () => {
    const target = targetFor(node.kubelet, "shutdown-1")
    const abort = new AbortController()
    const request = kubeletPublish(target, "shutdown-1")
    const call = outcomeOf(node.csi().node.nodePublishVolume(request, { signal: abort.signal })).catch(
      (error: unknown) => ({ ok: false, aborted: String(error) })
    )
    // The write has started once the tmpfs holds its data dir.
    await eventually(
      () => {
        const names = fs.existsSync(target) ? fs.readdirSync(target) : []
        if (!names.some((name) => name.startsWith("..") && name !== "..data")) {
          throw new Error("the write has not started yet")
        }
      },
      30_000,
      5
    )
    abort.abort()
    const exit = await node.driver().stop("SIGTERM")
    expect(exit).toEqual({ code: 0, signal: null })
    expect((await call).ok).toBe(false)
    expect(mountsUnder(target)).toEqual([])
    expect(fs.existsSync(target) ? fs.readdirSync(target) : []).toEqual([])
  }, 120_000)
})
