// A rotation through the Publisher (in-memory neighbours, a real provider client on a TestProvider): one Normal
// SecretRotated Event per rotation that changed content, none for one that changed nothing or for a first mount,
// and a restart request with the digest only when the SecretProviderClass opts in.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { SecretProviderClass } from "../../src/domain/SecretProviderClass.js"
import { EventsInMemory } from "../../src/k8s/Events.js"
import { WorkloadRestartInMemory } from "../../src/k8s/WorkloadRestart.js"
import { Publisher } from "../../src/publish/Publisher.js"
import { restartDigest, restartOnRotationAnnotation } from "../../src/publish/RotationChanges.js"
import { makeTestProvider, respondFiles } from "../support/TestProvider.js"
import { publisherWith, request, spc, tempTarget } from "./fixtures.js"

const plain = spc("default", "my-spc", { provider: "test", parameters: { objects: "- objectName: a" } })
const optedIn: SecretProviderClass = {
  ...plain,
  metadata: { ...plain.metadata, annotations: { [restartOnRotationAnnotation]: "true" } }
}
const version = (a: string, b: string) =>
  respondFiles(
    [
      { path: "a", contents: `secret-a-${a}` },
      { path: "b", contents: `secret-b-${b}` }
    ],
    [
      { id: "secret/a", version: a },
      { id: "secret/b", version: b }
    ]
  )

const rotations = (spcs: ReadonlyArray<SecretProviderClass>) =>
  Effect.gen(function* () {
    const provider = yield* makeTestProvider()
    provider.onMount(version("1", "1"))
    const target = tempTarget()
    const layer = publisherWith(provider.dir, spcs, {
      enableSecretRotation: true,
      rotationPollInterval: Duration.millis(0)
    })
    return { provider, target, layer }
  })

const rotated = Effect.gen(function* () {
  return (yield* (yield* EventsInMemory).list).filter((e) => e.reason === "SecretRotated")
})

describe("RotationReport through the Publisher", () => {
  it.live("a rotation that changed content gives one Normal SecretRotated Event; one that did not, none", () =>
    Effect.gen(function* () {
      const { provider, target, layer } = yield* rotations([plain])
      yield* Effect.gen(function* () {
        const publisher = yield* Publisher
        yield* publisher.publish(yield* request(target))
        yield* publisher.publish(yield* request(target))
        expect(yield* rotated).toEqual([])
        provider.onMount(version("2", "1"))
        yield* publisher.publish(yield* request(target))
        yield* publisher.publish(yield* request(target))
        const events = yield* rotated
        expect(events.map((e) => [e.type, e.pod.name, e.message])).toEqual([
          ["Normal", "pod-1", "SecretProviderClass default/my-spc rotated: secret/a: 1 -> 2"]
        ])
        expect(JSON.stringify(events)).not.toContain("secret-a-")
        expect(yield* (yield* WorkloadRestartInMemory).requests).toEqual([])
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped)
  )

  it.live("a class annotated restart-on-rotation asks for a restart with the digest of the new versions", () =>
    Effect.gen(function* () {
      const { provider, target, layer } = yield* rotations([optedIn])
      yield* Effect.gen(function* () {
        const publisher = yield* Publisher
        yield* publisher.publish(yield* request(target))
        expect(yield* (yield* WorkloadRestartInMemory).requests).toEqual([])
        provider.onMount(version("2", "3"))
        yield* publisher.publish(yield* request(target))
        const digest = restartDigest({ namespace: "default", name: "my-spc" }, [
          { id: "secret/b", version: "3" },
          { id: "secret/a", version: "2" }
        ])
        expect((yield* (yield* WorkloadRestartInMemory).requests).map((r) => [r.pod.name, r.spc, r.digest])).toEqual([
          ["pod-1", "default/my-spc", digest]
        ])
        expect((yield* rotated).map((e) => e.message)).toEqual([
          "SecretProviderClass default/my-spc rotated: secret/a: 1 -> 2, secret/b: 1 -> 3"
        ])
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped)
  )
})
