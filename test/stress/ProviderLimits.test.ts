// The built driver with --max-provider-files=200: a response with 201 files is InvalidProviderResponse with nothing
// written (a first publish) or the old files intact (a republish), exactly 200 are published; duplicate object ids
// collapse in the SecretProviderClassPodStatus, the last version of an id winning.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { reasonToCode } from "../../src/csi/toStatus.js"
import { outcomeOf, typedReasonOf } from "../support/CsiOutcome.js"
import { resources } from "../support/FakeApiStore.js"
import {
  kubeletPublish,
  mountsUnder,
  SPC_NAME,
  startStressNode,
  type StressNode,
  targetFor,
  tree
} from "../support/StressHarness.js"
import { respondFiles } from "../support/TestProvider.js"

const LIMIT = 200
const v = [{ id: "x", version: "1" }]
const files = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({ path: `d${i % 10}/f${i}`, contents: `${tag}-${i}` }))

let node: StressNode
beforeAll(async () => {
  node = await startStressNode({ driverArgs: [`--max-provider-files=${LIMIT}`] })
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

const publish = (target: string, uid: string) =>
  outcomeOf(node.csi().node.nodePublishVolume(kubeletPublish(target, uid)))

describe("--max-provider-files through the driver", () => {
  it("201 files on a first publish: InvalidProviderResponse naming count and flag, nothing written", async () => {
    const target = targetFor(node.kubelet, "limit-1")
    node.provider.onMount(respondFiles(files(LIMIT + 1, "new"), v))
    const mountsBefore = mountsUnder(node.kubelet)
    const outcome = await publish(target, "limit-1")
    expect(typedReasonOf(outcome)).toBe("InvalidProviderResponse")
    expect(outcome.ok ? undefined : outcome.code).toBe(reasonToCode.InvalidProviderResponse)
    expect(outcome.ok ? "" : outcome.details).toMatch(/"test".*201 files.*200.*--max-provider-files/)
    expect(mountsUnder(node.kubelet)).toEqual(mountsBefore)
    if (fs.existsSync(target)) expect(fs.readdirSync(target)).toEqual([])
  }, 60_000)

  it("201 files on a republish: kubelet gets OK and the old files stay byte for byte", async () => {
    const target = targetFor(node.kubelet, "limit-2")
    node.provider.onMount(respondFiles(files(3, "old"), v))
    expect(await publish(target, "limit-2")).toEqual({ ok: true })
    const before = tree(target)
    const calls = node.provider.mountRequests().length
    node.provider.onMount(respondFiles(files(LIMIT + 1, "new"), v))
    expect(await publish(target, "limit-2")).toEqual({ ok: true })
    expect(node.provider.mountRequests().length).toBeGreaterThan(calls)
    expect(tree(target)).toEqual(before)
    expect(fs.readFileSync(path.join(target, "d2", "f2"), "utf8")).toBe("old-2")
  }, 60_000)

  it("exactly 200 files are published", async () => {
    const target = targetFor(node.kubelet, "limit-3")
    node.provider.onMount(respondFiles(files(LIMIT, "new"), v))
    expect(await publish(target, "limit-3")).toEqual({ ok: true })
    expect(Object.values(tree(target)).filter((e) => e.kind === "file")).toHaveLength(LIMIT)
    expect(fs.readFileSync(path.join(target, "d9", "f199"), "utf8")).toBe("new-199")
  }, 60_000)
})

describe("duplicate object ids through a publish", () => {
  it("the SPCPS holds each id once, the last version winning, sorted by id", async () => {
    const target = targetFor(node.kubelet, "dup-1")
    const versions = [
      { id: "secret/b", version: "1" },
      { id: "secret/a", version: "1" },
      { id: "secret/b", version: "2" },
      { id: "secret/a", version: "3" }
    ]
    node.provider.onMount(respondFiles([{ path: "f", contents: "x" }], versions))
    expect(await publish(target, "dup-1")).toEqual({ ok: true })
    const spcps = resources.find((r) => r.plural === "secretproviderclasspodstatuses")!
    const stored = node.api.store.get(spcps, "default", `pod-dup-1-default-${SPC_NAME}`)
    expect((stored?.["status"] as { objects: unknown }).objects).toEqual([
      { id: "secret/a", version: "3" },
      { id: "secret/b", version: "2" }
    ])
  }, 60_000)
})
