// The node cache on the TestClock: the identity key keeps service accounts, namespaces, classes, generations and
// secrets apart; concurrent fetches of one key share one call; stale serves only to a first publish with the store
// down and only within the max staleness; the byte bound holds with many keys; a new generation drops the old.
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import { TestClock } from "effect/testing"
import type { PublishRequest } from "../../src/domain/PublishRequest.js"
import type { SecretProviderClass } from "../../src/domain/SecretProviderClass.js"
import { ProviderCallError, providerErrorCode } from "../../src/provider/ProviderCallError.js"
import { type Fetched, NodeCache } from "../../src/publish/NodeCache.js"
import { type CacheScope, cacheScopeOf, STALENESS_ANNOTATION } from "../../src/publish/NodeCacheKey.js"
import { validatePayload } from "../../src/writer/Payload.js"

const spc = (annotation: string | undefined, generation = 1, name = "db"): SecretProviderClass => ({
  apiVersion: "secrets-store.csi.x-k8s.io/v1",
  kind: "SecretProviderClass",
  metadata: {
    name,
    namespace: "team",
    generation,
    ...(annotation === undefined ? {} : { annotations: { [STALENESS_ANNOTATION]: annotation } })
  },
  spec: { provider: "vault", parameters: { a: "b" } }
})

const request = (serviceAccount: string, secrets: Record<string, string> = {}): PublishRequest => ({
  volumeId: "v",
  targetPath: "/t",
  readonly: true,
  volumeContext: { "csi.storage.k8s.io/serviceAccount.name": serviceAccount },
  secrets: Redacted.make(secrets),
  mountFlags: []
})

const pod = (namespace = "team") => ({ name: "p", namespace, uid: "u" })

const scopeOf = (
  cls: SecretProviderClass,
  req: PublishRequest,
  namespace = "team"
): Effect.Effect<CacheScope, unknown> =>
  Effect.flatMap(cacheScopeOf(cls, "vault", pod(namespace), req), (s) =>
    s === undefined ? Effect.die("no scope") : Effect.succeed(s)
  )

const fetched = (text: string, size = text.length): Effect.Effect<Fetched, never> =>
  Effect.map(
    Effect.orDie(
      validatePayload([{ path: "f", mode: 0o644, contents: new Uint8Array(Buffer.from(text.padEnd(size))) }])
    ),
    (payload) => ({ payload, objectVersions: [{ id: "f", version: text }] })
  )

const down = new ProviderCallError({ reason: "ProviderUnavailable", provider: "vault", message: "down" })
const textOf = (f: Fetched) => Buffer.from(f.payload.files[0]!.contents).toString().trim()

const withCache = <A, E>(maxBytes: number, f: (cache: NodeCache["Service"]) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    return yield* f(yield* NodeCache)
  }).pipe(Effect.provide(NodeCache.layer({ maxBytes })))

describe("node cache key", () => {
  it.effect("no annotation, or no service account: no scope; a bad annotation names the class and annotation", () =>
    Effect.gen(function* () {
      assert.isUndefined(yield* cacheScopeOf(spc(undefined), "vault", pod(), request("sa")))
      assert.isUndefined(yield* cacheScopeOf(spc("1h"), "vault", pod(), request("")))
      for (const bad of ["soon", "0s", "-1h", ""]) {
        const error = yield* Effect.flip(cacheScopeOf(spc(bad), "vault", pod(), request("sa")))
        assert.strictEqual(error.reason, "InvalidSecretProviderClass")
        assert.include(error.message, "team/db")
        assert.include(error.message, STALENESS_ANNOTATION)
      }
      assert.strictEqual((yield* scopeOf(spc("1h30m"), request("sa"))).maxStalenessMillis, 90 * 60_000)
    })
  )

  it.effect("service account, namespace, class, generation, parameters and secrets split keys; tokens do not", () =>
    Effect.gen(function* () {
      const base = yield* scopeOf(spc("1h"), request("sa", { TOKENS: "x" }))
      const same = yield* scopeOf(
        spc("1h"),
        request("sa", { TOKENS: "x", "csi.storage.k8s.io/serviceAccount.tokens": "t" })
      )
      assert.strictEqual(same.key, base.key)
      const others = [
        yield* scopeOf(spc("1h"), request("other", { TOKENS: "x" })),
        yield* scopeOf(spc("1h"), request("sa", { TOKENS: "x" }), "elsewhere"),
        yield* scopeOf(spc("1h", 1, "db2"), request("sa", { TOKENS: "x" })),
        yield* scopeOf(spc("1h", 2), request("sa", { TOKENS: "x" })),
        yield* scopeOf(spc("1h"), request("sa", { TOKENS: "y" })),
        yield* scopeOf(
          { ...spc("1h"), spec: { provider: "vault", parameters: { a: "c" } } },
          request("sa", { TOKENS: "x" })
        )
      ]
      assert.strictEqual(new Set([base.key, ...others.map((s) => s.key)]).size, 7)
    })
  )

  it.effect("a pod's own volume attributes split keys (they reach the provider); its name, uid and tokens do not", () =>
    Effect.gen(function* () {
      const withContext = (context: Record<string, string>): PublishRequest => {
        const base = request("sa")
        return { ...base, volumeContext: { ...base.volumeContext, ...context } }
      }
      const podA = yield* scopeOf(spc("1h"), withContext({ "csi.storage.k8s.io/pod.name": "a", objects: "reader" }))
      const podB = yield* scopeOf(spc("1h"), withContext({ "csi.storage.k8s.io/pod.name": "b", objects: "admin" }))
      assert.notStrictEqual(podA.key, podB.key, "another objects attribute asks the provider for other objects")
      const overridden = yield* scopeOf(spc("1h"), withContext({ a: "overridden" }))
      assert.notStrictEqual(overridden.key, (yield* scopeOf(spc("1h"), request("sa"))).key)
      const perPod = (n: string) =>
        withContext({
          "csi.storage.k8s.io/pod.name": `web-${n}`,
          "csi.storage.k8s.io/pod.uid": `uid-${n}`,
          "csi.storage.k8s.io/ephemeral": "true",
          "csi.storage.k8s.io/serviceAccount.tokens": `{"aud":{"token":"${n}"}}`
        })
      assert.strictEqual((yield* scopeOf(spc("1h"), perPod("1"))).key, (yield* scopeOf(spc("1h"), perPod("2"))).key)
    })
  )
})

describe("node cache", () => {
  it.effect("20 concurrent fetches of one key make one call; all get its payload", () =>
    withCache(1 << 20, (cache) =>
      Effect.gen(function* () {
        const scope = yield* scopeOf(spc("1h"), request("sa"))
        const gate = yield* Deferred.make<void>()
        let calls = 0
        const call = Effect.suspend(() => {
          calls += 1
          return Effect.andThen(Deferred.await(gate), fetched("one"))
        })
        const fibers = yield* Effect.forEach(Array.from({ length: 20 }), () =>
          Effect.forkChild(cache.fetch(scope, true, call))
        )
        yield* Effect.yieldNow
        yield* Deferred.succeed(gate, undefined)
        const served = yield* Fiber.joinAll(fibers)
        assert.strictEqual(calls, 1)
        assert.deepStrictEqual(
          served.map((s) => s._tag === "Fresh" && s.coalesced),
          [false, ...Array.from({ length: 19 }, () => true)]
        )
        assert.deepStrictEqual(new Set(served.map((s) => textOf(s.fetched))), new Set(["one"]))
      })
    )
  )

  it.effect("a leader interrupted mid-call: its waiters call for themselves, one of them leading", () =>
    withCache(1 << 20, (cache) =>
      Effect.gen(function* () {
        const scope = yield* scopeOf(spc("1h"), request("sa"))
        let calls = 0
        const hung = Effect.suspend(() => {
          calls += 1
          return Effect.never
        })
        const leader = yield* Effect.forkChild(cache.fetch(scope, true, hung))
        yield* Effect.yieldNow
        const counted = Effect.suspend(() => {
          calls += 1
          return Effect.andThen(Effect.yieldNow, fetched("again"))
        })
        const waiters = yield* Effect.forEach(Array.from({ length: 5 }), () =>
          Effect.forkChild(cache.fetch(scope, true, counted))
        )
        yield* Effect.yieldNow
        yield* Fiber.interrupt(leader)
        const served = yield* Fiber.joinAll(waiters)
        assert.deepStrictEqual(new Set(served.map((s) => textOf(s.fetched))), new Set(["again"]))
        assert.strictEqual(calls, 2)
      })
    )
  )

  it.effect("a result without files (the provider wrote them itself) is never shared nor kept", () =>
    withCache(1 << 20, (cache) =>
      Effect.gen(function* () {
        const scope = yield* scopeOf(spc("1h"), request("sa"))
        const gate = yield* Deferred.make<void>()
        let calls = 0
        const empty = Effect.map(
          Effect.orDie(validatePayload([])),
          (payload): Fetched => ({ payload, objectVersions: [] })
        )
        const call = Effect.suspend(() => {
          calls += 1
          return Effect.andThen(Deferred.await(gate), empty)
        })
        const fibers = yield* Effect.forEach(Array.from({ length: 3 }), () =>
          Effect.forkChild(cache.fetch(scope, true, call))
        )
        yield* Effect.yieldNow
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.joinAll(fibers)
        assert.strictEqual(calls, 3)
        assert.strictEqual(yield* cache.size, 0)
      })
    )
  )

  it.effect("store down: a first publish gets the key's payload within the staleness, never past it", () =>
    withCache(1 << 20, (cache) =>
      Effect.gen(function* () {
        const scope = yield* scopeOf(spc("10m"), request("sa"))
        yield* cache.fetch(scope, true, fetched("good"))
        yield* TestClock.adjust("9 minutes")
        const stale = yield* cache.fetch(scope, true, Effect.fail(down))
        assert.strictEqual(stale._tag, "Stale")
        assert.strictEqual(stale._tag === "Stale" ? stale.ageMillis : 0, 9 * 60_000)
        assert.strictEqual(textOf(stale.fetched), "good")
        // A republish keeps its old files: it is never served stale.
        assert.strictEqual(
          (yield* Effect.flip(cache.fetch(scope, false, Effect.fail(down)))).reason,
          "ProviderUnavailable"
        )
        // The provider answered (an error of its own): the store is up, nothing is served.
        const answered = providerErrorCode("vault", "Forbidden")
        assert.strictEqual(
          (yield* Effect.flip(cache.fetch(scope, true, Effect.fail(answered)))).reason,
          "ProviderError"
        )
        yield* TestClock.adjust("61 seconds")
        assert.strictEqual(
          (yield* Effect.flip(cache.fetch(scope, true, Effect.fail(down)))).reason,
          "ProviderUnavailable"
        )
      })
    )
  )

  it.effect("another service account or namespace never receives an entry it did not fetch", () =>
    withCache(1 << 20, (cache) =>
      Effect.gen(function* () {
        yield* cache.fetch(yield* scopeOf(spc("1h"), request("sa")), true, fetched("mine"))
        for (const scope of [
          yield* scopeOf(spc("1h"), request("intruder")),
          yield* scopeOf(spc("1h"), request("sa"), "other-ns")
        ]) {
          assert.strictEqual(
            (yield* Effect.flip(cache.fetch(scope, true, Effect.fail(down)))).reason,
            "ProviderUnavailable"
          )
        }
      })
    )
  )

  it.effect("a new generation of the class drops the old generation's entries", () =>
    withCache(1 << 20, (cache) =>
      Effect.gen(function* () {
        const old = yield* scopeOf(spc("1h", 1), request("sa"))
        yield* cache.fetch(old, true, fetched("gen1"))
        const before = yield* cache.size
        assert.isAbove(before, 0)
        const next = yield* scopeOf(spc("1h", 2), request("other"))
        assert.strictEqual(
          (yield* Effect.flip(cache.fetch(next, true, Effect.fail(down)))).reason,
          "ProviderUnavailable"
        )
        assert.strictEqual(yield* cache.size, 0)
        assert.strictEqual(
          (yield* Effect.flip(cache.fetch(old, true, Effect.fail(down)))).reason,
          "ProviderUnavailable"
        )
      })
    )
  )

  it.effect("a deleted class drops its entries (and only its): nothing of it is served stale afterwards", () =>
    withCache(1 << 20, (cache) =>
      Effect.gen(function* () {
        const db = yield* scopeOf(spc("1h", 1, "db"), request("sa"))
        const other = yield* scopeOf(spc("1h", 1, "other"), request("sa"))
        yield* cache.fetch(db, true, fetched("db"))
        yield* cache.fetch(other, true, fetched("other"))
        const both = yield* cache.size
        yield* cache.dropClass("team/db")
        const left = yield* cache.size
        assert.isBelow(left, both)
        assert.isAbove(left, 0)
        assert.strictEqual((yield* Effect.flip(cache.fetch(db, true, Effect.fail(down)))).reason, "ProviderUnavailable")
        const served = yield* cache.fetch(other, true, Effect.fail(down))
        assert.strictEqual(served._tag, "Stale")
      })
    )
  )

  it.effect("many keys stay under the byte bound, least recently used out", () =>
    withCache(64 * 1024, (cache) =>
      Effect.gen(function* () {
        const scopes = yield* Effect.forEach(Array.from({ length: 200 }), (_, i) =>
          scopeOf(spc("1h"), request(`sa-${i}`))
        )
        yield* cache.fetch(scopes[0]!, true, fetched("first", 1000))
        for (let i = 1; i < 200; i++) {
          yield* cache.fetch(scopes[i]!, true, fetched(`k${i}`, 1000))
          // Touch the first entry (a stale serve reads it), so it stays the most recently used.
          if (i % 10 === 0) yield* cache.fetch(scopes[0]!, true, Effect.fail(down))
          assert.isAtMost(yield* cache.size, 64 * 1024)
        }
        assert.isAbove(yield* cache.size, 32 * 1024)
        assert.strictEqual((yield* cache.fetch(scopes[0]!, true, Effect.fail(down)))._tag, "Stale")
        assert.strictEqual(
          (yield* Effect.flip(cache.fetch(scopes[1]!, true, Effect.fail(down)))).reason,
          "ProviderUnavailable"
        )
        assert.strictEqual((yield* cache.fetch(scopes[199]!, true, Effect.fail(down)))._tag, "Stale")
        // Bigger than the bound: served to the in-flight publishes, never kept.
        yield* cache.fetch(scopes[5]!, true, fetched("huge", 70 * 1024))
        assert.isAtMost(yield* cache.size, 64 * 1024)
      })
    )
  )

  it.effect("without a scope every fetch calls, and nothing is kept", () =>
    withCache(1 << 20, (cache) =>
      Effect.gen(function* () {
        let calls = 0
        const call = Effect.suspend(() => {
          calls += 1
          return fetched("x")
        })
        yield* Effect.forEach(Array.from({ length: 20 }), () => cache.fetch(undefined, true, call), {
          concurrency: "unbounded"
        })
        assert.strictEqual(calls, 20)
        assert.strictEqual(yield* cache.size, 0)
      })
    )
  )
})
