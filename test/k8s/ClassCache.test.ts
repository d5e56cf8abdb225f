// The SecretProviderClass cache's bounds through the live layer and the fake API server: paged lists (and a
// 410 on a continue page), only the kept fields, the per-object and total bounds (read on demand past them),
// and a re-list that sweeps what was deleted while no watch ran.
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { SecretProviderClass } from "../../src/domain/SecretProviderClass.js"
import { classCacheBounds } from "../../src/k8s/ClassCache.js"
import { decodeKept, estimatedSize } from "../../src/k8s/ClassFields.js"
import { KubeApi } from "../../src/k8s/KubeApi.js"
import { SecretProviderClasses } from "../../src/k8s/SecretProviderClasses.js"
import { fakeApiServer, type FakeApiServer } from "../support/FakeApiServer.js"
import { resourceByKind } from "../support/FakeApiStore.js"
import { eventually } from "../sync/fixtures.js"

const group = "secrets-store.csi.x-k8s.io"
const collection = `/apis/${group}/v1/secretproviderclasses`
const objectPath = (namespace: string, name: string) =>
  `/apis/${group}/v1/namespaces/${namespace}/secretproviderclasses/${name}`
const spcResource = resourceByKind("SecretProviderClass")!

const live = (server: FakeApiServer) =>
  SecretProviderClasses.layer.pipe(
    Layer.provide(KubeApi.layer({ kubeconfig: server.kubeconfigPath })),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({})))
  )

const defaultParameters = { objects: "- objectName: a" }
const spc = (name: string, parameters: Record<string, string> = defaultParameters, namespace = "default") => ({
  apiVersion: `${group}/v1`,
  kind: "SecretProviderClass",
  metadata: { name, namespace },
  spec: { provider: "test", parameters }
})

/** A class whose `objects` parameter is `bytes` long. */
const sized = (name: string, bytes: number) => spc(name, { objects: "x".repeat(bytes) })

const get = (namespace: string, name: string) =>
  Effect.gen(function* () {
    const classes = yield* SecretProviderClasses
    return yield* classes.get(namespace, name)
  })

const gets = (server: FakeApiServer, namespace: string, name: string) =>
  server.requestsMatching({ method: "GET", path: objectPath(namespace, name) }).length
const lists = (server: FakeApiServer) =>
  server.requests.filter((r) => r.method === "GET" && r.path === collection && r.query["watch"] !== "true")
const watches = (server: FakeApiServer) =>
  server.requestsMatching({ method: "GET", path: collection, withQuery: "watch" })

/** The first lookup starts the list/watch; the cache has synced once its watch is open. */
const synced = (server: FakeApiServer, first: readonly [string, string] = ["default", "c-0"]) =>
  Effect.gen(function* () {
    yield* Effect.ignore(get(...first))
    yield* eventually("the cache's watch", () => watches(server).length > 0)
  })

const withCache = <A, E>(f: (server: FakeApiServer) => Effect.Effect<A, E, SecretProviderClasses>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      return yield* f(server).pipe(Effect.provide(live(server)))
    })
  )

const objectsLength = (got: SecretProviderClass) => got.spec.parameters?.["objects"]?.length

/** Looks `name` up until a lookup is answered from the cache (no GET) with a value that passes `check`. */
const untilHit = (server: FakeApiServer, name: string, check: (got: SecretProviderClass) => boolean) =>
  Effect.gen(function* () {
    for (;;) {
      const n = gets(server, "default", name)
      const got = yield* get("default", name)
      if (gets(server, "default", name) === n && check(got)) return got
      yield* Effect.sleep("20 millis")
    }
  }).pipe(Effect.timeout("15 seconds"))

const names = (count: number) => Array.from({ length: count }, (_, i) => `c-${i}`)

describe("SecretProviderClass cache (live, fake API server)", () => {
  it.live("lists in pages of 5 through continue tokens, then serves every class without a GET", () =>
    withCache((server) =>
      Effect.gen(function* () {
        for (const name of names(12)) server.seed(spc(name))
        yield* synced(server)
        const requests = lists(server)
        assert.deepStrictEqual(
          requests.map((r) => r.query["limit"]),
          ["5", "5", "5"]
        )
        assert.deepStrictEqual(
          requests.map((r) => r.query["continue"] !== undefined),
          [false, true, true]
        )
        const before = names(12).map((n) => gets(server, "default", n))
        for (const name of names(12)) assert.strictEqual((yield* get("default", name)).metadata.name, name)
        assert.deepStrictEqual(
          names(12).map((n) => gets(server, "default", n)),
          before,
          "all hits"
        )
      })
    )
  )

  it.live("a 410 on a continue page lists again from the first page; the cache ends complete", () =>
    withCache((server) =>
      Effect.gen(function* () {
        for (const name of names(12)) server.seed(spc(name))
        server.failNext({ method: "GET", path: collection, withQuery: "continue", status: 410, reason: "Expired" })
        yield* synced(server)
        const firstPages = lists(server).filter((r) => r.query["continue"] === undefined)
        assert.strictEqual(firstPages.length, 2)
        const before = names(12).map((n) => gets(server, "default", n))
        for (const name of names(12)) yield* get("default", name)
        assert.deepStrictEqual(
          names(12).map((n) => gets(server, "default", n)),
          before,
          "all hits"
        )
      })
    )
  )

  it.live("keeps only the fields the driver reads (its annotations, the generation); a cached hit equals a GET", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* fakeApiServer()
        server.seed({
          ...spc("c-0"),
          metadata: {
            name: "c-0",
            namespace: "default",
            labels: { team: "a" },
            generation: 3,
            annotations: {
              "kubectl.kubernetes.io/last-applied-configuration": `${"{".padEnd(50_000, " ")}}`,
              "secrets-store.csi.k8s.io/restart-on-rotation": "true"
            },
            managedFields: [{ manager: "kubectl", fieldsV1: { f: {} } }]
          },
          spec: {
            provider: "test",
            parameters: { a: "1" },
            future: "x",
            secretObjects: [
              { secretName: "s", type: "Opaque", labels: { l: "v" }, extra: 1, data: [{ objectName: "a", key: "k" }] }
            ]
          },
          status: { byPod: [{ id: "p" }] }
        })
        // A fresh layer's first lookup, before any list: a GET.
        const fetched = yield* get("default", "c-0").pipe(Effect.provide(live(server)))
        const cached = yield* Effect.gen(function* () {
          yield* synced(server)
          const before = gets(server, "default", "c-0")
          const hit = yield* get("default", "c-0")
          assert.strictEqual(gets(server, "default", "c-0"), before, "a hit")
          return hit
        }).pipe(Effect.provide(live(server)))
        assert.deepStrictEqual(cached, fetched)
        const uid = server.store.get(spcResource, "default", "c-0")!.metadata["uid"]
        assert.deepStrictEqual(cached, {
          apiVersion: `${group}/v1`,
          kind: "SecretProviderClass",
          metadata: {
            name: "c-0",
            namespace: "default",
            resourceVersion: cached.metadata.resourceVersion!,
            uid: String(uid),
            generation: 1,
            annotations: { "secrets-store.csi.k8s.io/restart-on-rotation": "true" }
          },
          spec: {
            provider: "test",
            parameters: { a: "1" },
            secretObjects: [
              { secretName: "s", type: "Opaque", labels: { l: "v" }, data: [{ objectName: "a", key: "k" }] }
            ]
          }
        })
      })
    )
  )

  it.live("a class above the per-object bound is read on demand; cached once it shrinks, uncached once it grows", () =>
    withCache((server) =>
      Effect.gen(function* () {
        const big = classCacheBounds.maxObjectBytes + 1024
        server.seed(sized("c-0", big))
        server.seed(spc("c-1"))
        yield* synced(server)
        const before = gets(server, "default", "c-0")
        assert.strictEqual(objectsLength(yield* get("default", "c-0")), big)
        assert.strictEqual(objectsLength(yield* get("default", "c-0")), big)
        assert.strictEqual(gets(server, "default", "c-0"), before + 2, "every lookup of the big class GETs it")
        const small = gets(server, "default", "c-1")
        yield* get("default", "c-1")
        assert.strictEqual(gets(server, "default", "c-1"), small, "the small one is a hit")

        const store = server.store
        store.replace(spcResource, store.get(spcResource, "default", "c-0")!, sized("c-0", 10))
        yield* untilHit(server, "c-0", (got) => objectsLength(got) === 10)
        store.replace(spcResource, store.get(spcResource, "default", "c-1")!, sized("c-1", big))
        // The watch event drops the cached version at once: from then on every lookup GETs the big one.
        yield* Effect.gen(function* () {
          while (objectsLength(yield* get("default", "c-1")) !== big) yield* Effect.sleep("20 millis")
        }).pipe(Effect.timeout("15 seconds"))
        const grown = gets(server, "default", "c-1")
        assert.strictEqual(objectsLength(yield* get("default", "c-1")), big)
        assert.strictEqual(gets(server, "default", "c-1"), grown + 1, "grown past the bound: read on demand")
      })
    )
  )

  it.live("past the total bound, further classes are read on demand, each still correct", () =>
    withCache((server) =>
      Effect.gen(function* () {
        const each = 60 * 1024
        const count = Math.ceil(classCacheBounds.maxTotalBytes / each) + 10
        const all = Array.from({ length: count }, (_, i) => `c-${String(i).padStart(3, "0")}`)
        const seeded = all.map((name) => server.seed(sized(name, each)))
        // What the cache must admit, in list (name) order: each class that still fits in the total.
        let total = 0
        const admitted = new Set<string>()
        for (const o of seeded) {
          const size = estimatedSize(Effect.runSync(decodeKept(o)), Infinity)
          if (total + size > classCacheBounds.maxTotalBytes) continue
          total += size
          admitted.add(String(o.metadata["name"]))
        }
        yield* synced(server, ["default", "c-000"])
        const before = all.map((n) => gets(server, "default", n))
        for (const name of all) assert.strictEqual(objectsLength(yield* get("default", name)), each)
        const fetched = all.filter((n, i) => gets(server, "default", n) > before[i]!)
        assert.isAbove(fetched.length, 0)
        assert.deepStrictEqual(
          fetched,
          all.filter((n) => !admitted.has(n))
        )
      })
    )
  )

  it.live("a re-list after a 410 drops a class deleted while no watch ran", () =>
    withCache((server) =>
      Effect.gen(function* () {
        const deleted: Array<string> = []
        yield* (yield* SecretProviderClasses).onDeleted((key) => Effect.sync(() => void deleted.push(key)))
        for (const name of names(3)) server.seed(spc(name))
        server.watch.dropAfter = 1
        yield* synced(server)
        assert.strictEqual((yield* get("default", "c-2")).metadata.name, "c-2")
        // Keep the watch down: the deletion of c-2 reaches the driver only through a fresh list.
        server.failNext({ method: "GET", path: collection, withQuery: "watch", status: 503, times: 1_000_000 })
        const store = server.store
        store.replace(spcResource, store.get(spcResource, "default", "c-0")!, spc("c-0", { changed: "1" }))
        yield* eventually("the dropped watch retried", () => watches(server).length >= 3)
        store.delete(spcResource, "default", "c-2")
        store.compact()
        server.clearFaults()
        yield* eventually("a watch after a second list", () => {
          const relist = server.requests.findLastIndex((r) => lists(server).includes(r))
          return lists(server).length >= 2 && server.requests.slice(relist).some((r) => r.query["watch"] === "true")
        })
        const e = yield* Effect.flip(get("default", "c-2"))
        assert.strictEqual(e.reason, "SecretProviderClassNotFound")
        assert.deepStrictEqual((yield* get("default", "c-0")).spec.parameters, { changed: "1" })
        // The re-list announced the deletion it found, and only that one.
        assert.deepStrictEqual(deleted, ["default/c-2"])
      })
    )
  )

  it.live("a deletion is announced to every listener: a watch event for a cached class and for an uncached one", () =>
    withCache((server) =>
      Effect.gen(function* () {
        server.seed(spc("c-0"))
        server.seed(sized("big", classCacheBounds.maxObjectBytes + 1))
        const heard: Array<string> = []
        yield* (yield* SecretProviderClasses).onDeleted((key) => Effect.sync(() => void heard.push(key)))
        yield* synced(server)
        server.store.delete(spcResource, "default", "c-0")
        server.store.delete(spcResource, "default", "big")
        yield* eventually("both deletions announced", () => heard.length === 2)
        assert.deepStrictEqual(heard.sort(), ["default/big", "default/c-0"])
      })
    )
  )
})
