// Bad requests against the real driver, property-based (effect/Arbitrary): arbitrary volume contexts (often
// on top of a valid kubelet one, so they get deep), secrets maps, volume ids, capabilities and target paths
// below the kubelet root (with `..`, `.`, empty, long, odd elements). Every request gets a status: OK, or a
// typed reason with its gRPC code, never a defect; the driver stays alive and answers Probe; a successful
// publish is undone by an unpublish; nothing outside the pods directory changes.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { reasonToCode } from "../../src/csi/toStatus.js"
import type { FailureReason } from "../../src/domain/FailureReason.js"
import type { NodePublishVolumeRequest } from "../../src/gen/csi/v1/csi.js"
import { isDefect, outcomeOf, typedReasonOf, type CsiOutcome } from "../support/CsiOutcome.js"
import {
  kubeletPublish,
  mountsUnder,
  SPC_NAME,
  startStressNode,
  tree,
  type StressNode
} from "../support/StressHarness.js"
import { respondFiles } from "../support/TestProvider.js"

const oneOf = <const A extends ReadonlyArray<string>>(values: A) => Arbitrary.schema(Schema.Literals(values))
const text = Arbitrary.schema(Schema.String)
const orText = (arb: Arbitrary.Arbitrary<string>): Arbitrary.Arbitrary<string> =>
  Arbitrary.flatMap(Arbitrary.schema(Schema.Boolean), (useText): Arbitrary.Arbitrary<string> => (useText ? text : arb))

const keys = oneOf([
  "secretProviderClass",
  "csi.storage.k8s.io/pod.name",
  "csi.storage.k8s.io/pod.namespace",
  "csi.storage.k8s.io/pod.uid",
  "csi.storage.k8s.io/serviceAccount.tokens",
  "csi.storage.k8s.io/ephemeral",
  "providerName",
  "objects",
  ""
])
const values = oneOf([
  SPC_NAME,
  "default",
  "other",
  "",
  "../x",
  "mock_provider",
  "{not json",
  '{"aud":{"token":"t"}}',
  "\u0000",
  "é/../\n",
  "x".repeat(5000)
])
/** true three times in four: most requests should get past the argument checks. */
const likely = Arbitrary.map(oneOf(["a", "b", "c", "no"]), (x) => x !== "no")
const entries = Arbitrary.array(Arbitrary.all([orText(keys), orText(values)]), { maxLength: 4 })
const elements = oneOf(["a", "b c", "ü", "..", ".", "", "mount", "x".repeat(300), "\\", "%2e%2e"])

const requestArb = Arbitrary.all({
  base: likely,
  context: entries,
  secrets: entries,
  volumeId: oneOf(["", "csi-1", "csi-2", "v".repeat(300)]),
  readonly: likely,
  capability: likely,
  pod: oneOf(["p1", "p2", "p3"]),
  elements: Arbitrary.array(elements, { maxLength: 4 })
})

let node: StressNode
let pods: string
/** Outcomes of the generated publishes by reason ("OK" for success): proof the generator gets deep. */
const seen = new Map<string, number>()
beforeAll(async () => {
  node = await startStressNode()
  pods = path.join(node.kubelet, "pods")
  fs.mkdirSync(pods)
  node.provider.onMount(
    respondFiles([
      { path: "a", contents: "alpha" },
      { path: "d/b", contents: "beta" }
    ])
  )
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

/** Everything under the temp root except the pods directory, where targets live. */
const outsidePods = () =>
  Object.fromEntries(Object.entries(tree(node.base)).filter(([p]) => !p.startsWith("kubelet/pods/")))

const expectStatus = (outcome: CsiOutcome) => {
  expect(isDefect(outcome), JSON.stringify(outcome)).toBe(false)
  if (outcome.ok) return
  const reason = typedReasonOf(outcome) as FailureReason
  expect(Object.keys(reasonToCode), JSON.stringify(outcome)).toContain(reason)
  expect(outcome.code).toBe(reasonToCode[reason])
}

describe("bad requests, property-based, against the driver", () => {
  it.live.prop(
    "every request gets a status; the driver survives; nothing outside the pods dir changes",
    { r: requestArb },
    ({ r }) =>
      Effect.promise(async () => {
        // kubelet's shape with odd elements below it: only those that normalize away leave a path the driver acts on.
        const target = path.join(pods, r.pod, "volumes", "kubernetes.io~csi", "v", "mount", ...r.elements)
        // Only targets strictly below pods/<pod>: a target resolving to the pods dir (or above) is out of scope here.
        if (!path.resolve(target).startsWith(`${pods}/${r.pod}/`)) return true
        const before = outsidePods()
        const valid = kubeletPublish(target, r.pod)
        const request: NodePublishVolumeRequest = {
          ...valid,
          volumeId: r.volumeId,
          readonly: r.readonly,
          volumeCapability: r.capability ? valid.volumeCapability : undefined,
          volumeContext: { ...(r.base ? valid.volumeContext : {}), ...Object.fromEntries(r.context) },
          secrets: Object.fromEntries(r.secrets)
        }
        const published = await outcomeOf(node.csi().node.nodePublishVolume(request))
        expectStatus(published)
        const unpublished = await outcomeOf(
          node.csi().node.nodeUnpublishVolume({ volumeId: r.volumeId, targetPath: target })
        )
        expectStatus(unpublished)
        // A target that cannot exist (an element over 255 bytes) fails unpublish with a typed MountFailed, as upstream.
        if (published.ok) expect(unpublished).toEqual({ ok: true })
        await node.csi().identity.probe({})
        expect(node.driver().child.exitCode).toBeNull()
        expect(mountsUnder(node.base)).toEqual([])
        seen.set(typedReasonOf(published) ?? "OK", (seen.get(typedReasonOf(published) ?? "OK") ?? 0) + 1)
        expect(outsidePods()).toEqual(before)
        return true
      }),
    { timeout: 240_000, arbitrary: { runs: 150, seed: 424_242 } }
  )

  it("the generated requests reached every stage: success, bad arguments, missing SPC", () => {
    expect([...seen.keys()].sort()).toEqual(
      expect.arrayContaining(["InvalidRequest", "OK", "SecretProviderClassNotFound"])
    )
    expect(seen.get("OK")).toBeGreaterThanOrEqual(10)
  })
})
