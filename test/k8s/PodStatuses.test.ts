// PodStatuses.upsert against the fake API server (create, update keeping foreign labels, conflict retries, long
// names), the podStatusName table, and the in-memory layer.
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { nodeNameLabel, podStatusName } from "../../src/domain/SecretProviderClass.js"
import { KubeApi } from "../../src/k8s/KubeApi.js"
import { KubernetesError } from "../../src/k8s/KubernetesError.js"
import { type PodStatusInput, PodStatuses, PodStatusesInMemory } from "../../src/k8s/PodStatuses.js"
import { fakeApiServer, type FakeApiServer } from "../support/FakeApiServer.js"
import { resources } from "../support/FakeApiStore.js"

const group = "secrets-store.csi.x-k8s.io"
const spcpsResource = resources.find((r) => r.plural === "secretproviderclasspodstatuses")!
const collection = `/apis/${group}/v1/namespaces/ns1/secretproviderclasspodstatuses`

const input: PodStatusInput = {
  podName: "web-0",
  podNamespace: "ns1",
  podUid: "uid-1",
  spcName: "azure",
  nodeId: "node-a",
  targetPath: "/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~csi/vol/mount",
  objects: [
    { id: "secret/zeta", version: "2" },
    { id: "secret/alpha", version: "1" },
    { id: "key/mid", version: "7" }
  ]
}

const upsert = (i: PodStatusInput) =>
  Effect.gen(function* () {
    const statuses = yield* PodStatuses
    return yield* statuses.upsert(i)
  })

const withServer = <A, E>(f: (server: FakeApiServer) => Effect.Effect<A, E, PodStatuses>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      const layer = PodStatuses.layer.pipe(
        Layer.provide(KubeApi.layer({ kubeconfig: server.kubeconfigPath })),
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({})))
      )
      return yield* f(server).pipe(Effect.provide(layer))
    })
  )

const stored = (server: FakeApiServer, name: string) => server.store.get(spcpsResource, "ns1", name)

describe("PodStatuses.layer (live, fake API server)", () => {
  it.live("a refresh with nothing changed reads once and writes nothing; a changed one updates in place", () =>
    withServer((server) =>
      Effect.gen(function* () {
        yield* upsert(input)
        const calls = () => server.requests.filter((r) => r.path.startsWith(collection)).map((r) => r.method)
        const before = calls().length
        yield* upsert({ ...input, refresh: true })
        assert.deepStrictEqual(calls().slice(before), ["GET"])
        yield* upsert({ ...input, objects: [{ id: "secret/zeta", version: "3" }], refresh: true })
        assert.deepStrictEqual(calls().slice(before + 1), ["GET", "PUT"])
        assert.deepStrictEqual((stored(server, "web-0-ns1-azure")!["status"] as { objects: unknown }).objects, [
          { id: "secret/zeta", version: "3" }
        ])
      })
    )
  )

  it.live("an upsert answers with the objects the status held before it: none for a new one", () =>
    withServer(() =>
      Effect.gen(function* () {
        assert.strictEqual(yield* upsert(input), undefined)
        const previous = yield* upsert({ ...input, objects: [{ id: "secret/zeta", version: "3" }], refresh: true })
        assert.deepStrictEqual(previous, [
          { id: "key/mid", version: "7" },
          { id: "secret/alpha", version: "1" },
          { id: "secret/zeta", version: "2" }
        ])
        assert.deepStrictEqual(yield* upsert({ ...input, refresh: true }), [{ id: "secret/zeta", version: "3" }])
      })
    )
  )

  it.live("a refresh whose status is gone (deleted by a user) creates it again", () =>
    withServer((server) =>
      Effect.gen(function* () {
        yield* upsert({ ...input, refresh: true })
        assert.deepStrictEqual(
          server.requests.filter((r) => r.path.startsWith(collection)).map((r) => r.method),
          ["GET", "POST"]
        )
        assert.isDefined(stored(server, "web-0-ns1-azure"))
      })
    )
  )

  it.live("creates the SPCPS: name, node label, one Pod owner, status with objects sorted by id", () =>
    withServer((server) =>
      Effect.gen(function* () {
        yield* upsert(input)
        const o = stored(server, "web-0-ns1-azure")!
        assert.deepStrictEqual(o.metadata["labels"], { [nodeNameLabel]: "node-a" })
        assert.deepStrictEqual(o.metadata["ownerReferences"], [
          { apiVersion: "v1", kind: "Pod", name: "web-0", uid: "uid-1" }
        ])
        assert.deepStrictEqual(o["status"], {
          podName: "web-0",
          secretProviderClassName: "azure",
          mounted: true,
          targetPath: input.targetPath,
          objects: [
            { id: "key/mid", version: "7" },
            { id: "secret/alpha", version: "1" },
            { id: "secret/zeta", version: "2" }
          ]
        })
        assert.strictEqual(o["apiVersion"], `${group}/v1`)
        assert.deepStrictEqual(
          server.requests.map((r) => `${r.method} ${r.path}`),
          [`POST ${collection}`]
        )
      })
    )
  )

  it.live("collapses duplicate object ids, the last version of an id winning, and keeps the id sort", () =>
    withServer((server) =>
      Effect.gen(function* () {
        const objects = [
          { id: "secret/zeta", version: "1" },
          { id: "secret/alpha", version: "1" },
          { id: "secret/zeta", version: "2" },
          { id: "secret/alpha", version: "3" },
          { id: "key/mid", version: "7" }
        ]
        yield* upsert({ ...input, objects })
        assert.deepStrictEqual((stored(server, "web-0-ns1-azure")!["status"] as { objects: unknown }).objects, [
          { id: "key/mid", version: "7" },
          { id: "secret/alpha", version: "3" },
          { id: "secret/zeta", version: "2" }
        ])
      })
    )
  )

  it.live("updates an existing one: keeps foreign labels and annotations, replaces owner, node label, status", () =>
    withServer((server) =>
      Effect.gen(function* () {
        server.seed({
          apiVersion: `${group}/v1`,
          kind: "SecretProviderClassPodStatus",
          metadata: {
            name: "web-0-ns1-azure",
            namespace: "ns1",
            labels: { team: "x", [nodeNameLabel]: "node-old" },
            annotations: { keep: "me" },
            ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "web-0", uid: "uid-old" }]
          },
          status: { podName: "web-0", mounted: true, objects: [{ id: "old", version: "0" }] }
        })
        yield* upsert(input)
        const o = stored(server, "web-0-ns1-azure")!
        assert.deepStrictEqual(o.metadata["labels"], { team: "x", [nodeNameLabel]: "node-a" })
        assert.deepStrictEqual(o.metadata["annotations"], { keep: "me" })
        assert.deepStrictEqual(o.metadata["ownerReferences"], [
          { apiVersion: "v1", kind: "Pod", name: "web-0", uid: "uid-1" }
        ])
        assert.strictEqual((o["status"] as { objects: ReadonlyArray<unknown> }).objects.length, 3)
        assert.deepStrictEqual(
          server.requests.map((r) => r.method),
          ["POST", "GET", "PUT"]
        )
      })
    )
  )

  it.live("retries a 409 Conflict storm of 2 with a fresh read, then succeeds", () =>
    withServer((server) =>
      Effect.gen(function* () {
        server.seed({ kind: "SecretProviderClassPodStatus", metadata: { name: "web-0-ns1-azure", namespace: "ns1" } })
        server.failNext({
          method: "PUT",
          status: 409,
          reason: "Conflict",
          times: 2,
          message: "the object has been modified"
        })
        yield* upsert(input)
        assert.deepStrictEqual(
          server.requests.map((r) => r.method),
          ["POST", "GET", "PUT", "GET", "PUT", "GET", "PUT"]
        )
        assert.strictEqual((stored(server, "web-0-ns1-azure")!["status"] as { podName: string }).podName, "web-0")
      })
    )
  )

  it.live("gives up after 5 conflicting attempts with a typed 409", () =>
    withServer((server) =>
      Effect.gen(function* () {
        server.seed({ kind: "SecretProviderClassPodStatus", metadata: { name: "web-0-ns1-azure", namespace: "ns1" } })
        server.failNext({ method: "PUT", status: 409, reason: "Conflict", times: 100 })
        const e = yield* Effect.flip(upsert(input))
        assert.instanceOf(e, KubernetesError)
        assert.strictEqual(e.reason, "KubernetesApiError")
        assert.strictEqual(e.status, 409)
        assert.include(e.message, "update secretproviderclasspodstatus ns1/web-0-ns1-azure")
        assert.strictEqual(server.requestsMatching({ method: "PUT" }).length, 5)
      })
    )
  )

  it.live("a non-conflict failure is not retried and names the object", () =>
    withServer((server) =>
      Effect.gen(function* () {
        server.failNext({ method: "POST", status: 403, message: "forbidden" })
        const e = yield* Effect.flip(upsert(input))
        assert.strictEqual(e.status, 403)
        assert.strictEqual(
          e.message,
          "failed to create secretproviderclasspodstatus ns1/web-0-ns1-azure, error: forbidden"
        )
        assert.strictEqual(server.requests.length, 1)
      })
    )
  )

  it.live("a name over 253 characters is shortened deterministically, and the next upsert finds it", () =>
    withServer((server) =>
      Effect.gen(function* () {
        const long = { ...input, podName: "p".repeat(200), spcName: "s".repeat(60) }
        const name = podStatusName(long.podName, long.podNamespace, long.spcName)
        assert.isAtMost(name.length, 253)
        yield* upsert(long)
        yield* upsert({ ...long, objects: [] })
        const o = stored(server, name)!
        assert.deepStrictEqual((o["status"] as { objects: unknown }).objects, [])
        assert.deepStrictEqual(
          server.requests.map((r) => r.method),
          ["POST", "POST", "GET", "PUT"]
        )
      })
    )
  )
})

describe("podStatusName", () => {
  const long = (n: number, c = "a") => c.repeat(n)
  it.each([
    { pod: "web-0", ns: "default", spc: "azure", expected: "web-0-default-azure" },
    { pod: "a.b", ns: "ns", spc: "c.d", expected: "a.b-ns-c.d" },
    // 253 exactly stays as is.
    { pod: long(253 - 6), ns: "ns", spc: "s", expected: `${long(247)}-ns-s` }
  ])("$expected", ({ pod, ns, spc, expected }) => {
    assert.strictEqual(podStatusName(pod, ns, spc), expected)
  })

  it("shortens over 253 to a prefix, a dash and 16 hex chars, deterministically and distinctly", () => {
    const a = podStatusName(long(249), "ns", "s")
    assert.strictEqual(a.length, 253)
    assert.match(a, /^a{236}-[0-9a-f]{16}$/)
    assert.strictEqual(podStatusName(long(249), "ns", "s"), a)
    assert.notStrictEqual(podStatusName(long(249), "ns", "t"), a)
  })

  it("never leaves a '-' or '.' before the hash, so the result stays a DNS subdomain", () => {
    const name = podStatusName(`${long(235)}.-x`, "ns", long(30))
    assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/)
    assert.match(name, /^a{235}-[0-9a-f]{16}$/)
  })
})

describe("PodStatuses.layerInMemory", () => {
  it.effect("upserts, merges labels like the live layer, and fails on demand", () =>
    Effect.gen(function* () {
      const handle = yield* PodStatusesInMemory
      yield* upsert(input)
      const [first] = yield* handle.list
      assert.strictEqual(first?.metadata.name, "web-0-ns1-azure")
      assert.deepStrictEqual(
        first?.status.objects.map((o) => o.id),
        ["key/mid", "secret/alpha", "secret/zeta"]
      )
      yield* handle.put({ ...first!, metadata: { ...first!.metadata, labels: { team: "x" } } })
      yield* upsert({ ...input, nodeId: "node-b" })
      assert.deepStrictEqual((yield* handle.list)[0]?.metadata.labels, { team: "x", [nodeNameLabel]: "node-b" })
      yield* handle.failWith(new KubernetesError({ reason: "KubernetesApiError", message: "boom", status: 500 }))
      assert.strictEqual((yield* Effect.flip(upsert(input))).message, "boom")
      yield* handle.failWith(undefined)
      yield* upsert(input)
      assert.strictEqual((yield* handle.list).length, 1)
    }).pipe(Effect.provide(PodStatuses.layerInMemory))
  )
})
