// 50 MiB from a provider with --max-call-recv-msg-size raised to 64 MiB: the driver either writes all of it
// (byte-exact through one ..data) or fails with a clean typed reason; on a republish over good content a
// failure leaves the old files byte for byte. The default-limit case is a row of HostileProviders.test.ts.
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { reasonToCode } from "../../src/csi/toStatus.js"
import type { FailureReason } from "../../src/domain/FailureReason.js"
import { outcomeOf, typedReasonOf, type CsiOutcome } from "../support/CsiOutcome.js"
import {
  kubeletPublish,
  mountsUnder,
  startStressNode,
  targetFor,
  tree,
  type StressNode
} from "../support/StressHarness.js"
import { respondFiles } from "../support/TestProvider.js"

const MiB = 1024 * 1024
const big = new Uint8Array(50 * MiB).map((_, i) => (i * 31) & 0xff)
const bigSha = createHash("sha256").update(big).digest("hex")
const bigPayload = respondFiles(
  [
    { path: "big", contents: big, mode: 0o400 },
    { path: "small", contents: "s" }
  ],
  [{ id: "big", version: "1" }]
)

let node: StressNode
beforeAll(async () => {
  node = await startStressNode({ driverArgs: [`--max-call-recv-msg-size=${64 * MiB}`] })
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

const publish = (target: string, uid: string) =>
  outcomeOf(node.csi().node.nodePublishVolume(kubeletPublish(target, uid)))

/** A clean failure: a reason from the closed set leading the message, with the code toStatus maps it to. */
const expectCleanFailure = (outcome: CsiOutcome) => {
  const reason = typedReasonOf(outcome) as FailureReason
  expect(Object.keys(reasonToCode)).toContain(reason)
  expect(outcome.ok ? undefined : outcome.code).toBe(reasonToCode[reason])
}

describe("50 MiB with a raised receive limit", () => {
  it("a first publish writes all 50 MiB byte-exact, or fails cleanly with nothing mounted", async () => {
    const target = targetFor(node.kubelet, "big-1")
    node.provider.onMount(bigPayload)
    const outcome = await publish(target, "big-1")
    console.info(`50 MiB first publish with a 64 MiB limit: ${JSON.stringify(outcome)}`)
    expect(node.driver().child.exitCode).toBeNull()
    if (outcome.ok) {
      const files = tree(target)
      const data = fs.readlinkSync(path.join(target, "..data"))
      expect(files[`${data}/big`]).toMatchObject({ kind: "file", mode: 0o400, sha: bigSha })
      expect(fs.readFileSync(path.join(target, "small"), "utf8")).toBe("s")
    } else {
      expectCleanFailure(outcome)
      expect(mountsUnder(node.kubelet)).toEqual([])
    }
  }, 120_000)

  it("a republish of 50 MiB over good content: all new bytes, or the old files untouched", async () => {
    const target = targetFor(node.kubelet, "big-2")
    node.provider.onMount(respondFiles([{ path: "small", contents: "old" }]))
    expect(await publish(target, "big-2")).toEqual({ ok: true })
    const before = tree(target)
    node.provider.onMount(bigPayload)
    const outcome = await publish(target, "big-2")
    // A failed republish is reported as success to kubelet (kubernetes/kubernetes#121271).
    expect(outcome).toEqual({ ok: true })
    const after = tree(target)
    const data = fs.readlinkSync(path.join(target, "..data"))
    const rotated = after[`${data}/big`]?.sha === bigSha && fs.readFileSync(path.join(target, "small"), "utf8") === "s"
    console.info(`50 MiB republish with a 64 MiB limit: ${rotated ? "rotated" : "kept the old files"}`)
    if (!rotated) expect(after).toEqual(before)
    expect(node.driver().child.exitCode).toBeNull()
    expect(await node.csi().identity.probe({})).toBeDefined()
  }, 120_000)
})
