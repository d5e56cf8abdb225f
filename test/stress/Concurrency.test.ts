// 200 concurrent publishes and unpublishes over 50 targets through the real driver. Each target gets two
// pairs of calls, each pair sent at once (the same target twice at the same time, sometimes publish and
// unpublish together); the second pair is of one kind, so the end state is known: exactly the targets whose
// last pair published are tmpfs mounts (one each, with their own pod's file), the others are gone. Plus 1,000
// kubelet-like clients connecting at once, each on its own connection: none is refused.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { createChannel, createClient } from "nice-grpc"
import { IdentityDefinition, NodeDefinition } from "../../src/gen/csi/v1/csi.js"
import { prng } from "../support/CrashLoop.js"
import { outcomeOf, type CsiOutcome } from "../support/CsiOutcome.js"
import { kubeletPublish, mountsUnder, startStressNode, targetFor, type StressNode } from "../support/StressHarness.js"
import { respondFiles } from "../support/TestProvider.js"

const TARGETS = 50
type Op = "P" | "U"
const firstPairs: ReadonlyArray<readonly [Op, Op]> = [
  ["P", "P"],
  ["P", "U"],
  ["U", "P"],
  ["U", "U"]
]
const lastPairs: ReadonlyArray<readonly [Op, Op]> = [
  ["P", "P"],
  ["U", "U"]
]

let node: StressNode
beforeAll(async () => {
  node = await startStressNode()
  // Every pod gets a file naming itself, so a write landing in another pod's target would show.
  node.provider.onMount((request, context) => {
    const uid = (JSON.parse(request.attributes) as Record<string, string>)["csi.storage.k8s.io/pod.uid"] ?? "?"
    return respondFiles([
      { path: "who", contents: uid },
      { path: "nested/x", contents: `x-${uid}` }
    ])(request, context)
  })
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

describe("concurrent publish/unpublish through the driver", () => {
  it("200 calls over 50 targets: exactly the expected tmpfs mounts, no leaks, no orphan data dirs", async () => {
    const random = prng(50_200)
    const plans = Array.from({ length: TARGETS }, (_, i) => {
      const uid = `c-${i}`
      const pick = <A>(xs: ReadonlyArray<A>) => xs[Math.floor(random() * xs.length)]!
      return { uid, target: targetFor(node.kubelet, uid), pairs: [pick(firstPairs), pick(lastPairs)] as const }
    })
    const call = (op: Op, target: string, uid: string): Promise<CsiOutcome> =>
      outcomeOf(
        op === "P"
          ? node.csi().node.nodePublishVolume(kubeletPublish(target, uid))
          : node.csi().node.nodeUnpublishVolume({ volumeId: `csi-${uid}`, targetPath: target })
      )
    const outcomes = (
      await Promise.all(
        plans.map(async ({ uid, target, pairs }) => {
          const results: Array<CsiOutcome> = []
          for (const pair of pairs) results.push(...(await Promise.all(pair.map((op) => call(op, target, uid)))))
          return results
        })
      )
    ).flat()

    expect(outcomes).toHaveLength(200)
    expect(outcomes.filter((o) => !o.ok)).toEqual([])
    expect(node.driver().child.exitCode).toBeNull()
    const expected = plans.filter((p) => p.pairs[1][0] === "P")
    expect(expected.length).toBeGreaterThan(0)
    expect(expected.length).toBeLessThan(TARGETS)
    const mounts = mountsUnder(node.kubelet)
    expect(mounts.map((m) => m.mountPoint).sort()).toEqual(expected.map((p) => p.target).sort())
    expect(mounts.every((m) => m.fsType === "tmpfs")).toBe(true)
    for (const { uid, target } of expected) {
      expect(fs.readFileSync(path.join(target, "who"), "utf8")).toBe(uid)
      expect(fs.readFileSync(path.join(target, "nested", "x"), "utf8")).toBe(`x-${uid}`)
      const data = fs.readlinkSync(path.join(target, "..data"))
      expect(fs.readdirSync(target).sort()).toEqual(["..data", data, "nested", "who"].sort())
    }
    for (const { target } of plans.filter((p) => p.pairs[1][0] === "U")) expect(fs.existsSync(target)).toBe(false)
  }, 180_000)
})

describe("connections at once to the built driver", () => {
  it("1,000 clients, each on its own connection, calling Probe and NodeGetCapabilities: none UNAVAILABLE", async () => {
    // grpc-js shares a connection among channels to one address unless each has its own subchannel pool.
    const channels = Array.from({ length: 1_000 }, () =>
      createChannel(`unix://${path.join(node.base, "csi.sock")}`, undefined, { "grpc.use_local_subchannel_pool": 1 })
    )
    const outcomes = await Promise.all(
      channels.map((channel, i) =>
        outcomeOf(
          i % 2 === 0
            ? createClient(IdentityDefinition, channel).probe({})
            : createClient(NodeDefinition, channel).nodeGetCapabilities({})
        )
      )
    )
    for (const channel of channels) channel.close()
    expect(outcomes.filter((o) => !o.ok)).toEqual([])
    expect(node.driver().child.exitCode).toBeNull()
  }, 120_000)
})
