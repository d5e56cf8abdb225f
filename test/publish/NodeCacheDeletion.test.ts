// A class deleted from the cluster takes its node-cache entries with it: recreated with the same generation (the
// same cache key), its pods are never served what was fetched before the deletion.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Status } from "nice-grpc"
import type { SecretProviderClass } from "../../src/domain/SecretProviderClass.js"
import { EventsInMemory } from "../../src/k8s/Events.js"
import { SecretProviderClassesInMemory } from "../../src/k8s/SecretProviderClasses.js"
import { Publisher } from "../../src/publish/Publisher.js"
import { STALENESS_ANNOTATION } from "../../src/publish/NodeCacheKey.js"
import { failWith, makeTestProvider, respondFiles } from "../support/TestProvider.js"
import { publisherWith, request, spc, tempTarget } from "./fixtures.js"

const base = spc("default", "my-spc", { provider: "test", parameters: { objects: "- objectName: a" } })
const cached: SecretProviderClass = {
  ...base,
  metadata: { ...base.metadata, generation: 1, annotations: { [STALENESS_ANNOTATION]: "1h" } }
}
const files = respondFiles([{ path: "a", contents: "secret-a" }], [{ id: "secret/a", version: "v1" }])

describe("node cache and class deletion (Publisher on in-memory neighbours)", () => {
  it.live("stale is served while the class lives; after its deletion and re-creation, the outage fails", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(files)
      yield* Effect.gen(function* () {
        const publisher = yield* Publisher
        const classes = yield* SecretProviderClassesInMemory
        yield* publisher.publish(yield* request(tempTarget()))
        provider.onMount(failWith(Status.UNAVAILABLE, "store down"))
        // The class lives: a first publish with the store down is served the cached copy.
        yield* publisher.publish(yield* request(tempTarget()))
        const reasons = (yield* (yield* EventsInMemory).list).map((e) => e.reason)
        expect(reasons).toEqual(["ServedStale"])
        yield* classes.remove("default", "my-spc")
        yield* classes.put(cached)
        const failure = yield* Effect.flip(publisher.publish(yield* request(tempTarget())))
        expect(failure.reason).toBe("ProviderUnavailable")
      }).pipe(Effect.provide(publisherWith(provider.dir, [cached])))
    }).pipe(Effect.scoped)
  )
})
