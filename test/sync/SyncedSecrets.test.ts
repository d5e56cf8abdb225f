// The create-or-patch of one Secret: the merge patch it computes (pure), and against the fake API server an
// optimistic-lock conflict and a create race (AlreadyExists) that are both resolved by reading again.
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { KubeApi, type KubeApiShape } from "../../src/k8s/KubeApi.js"
import type { DesiredSecret } from "../../src/sync/SecretBuilder.js"
import { secretPatch, upsertSecret } from "../../src/sync/SyncedSecrets.js"
import { fakeApiServer, type FakeApiServer } from "../support/FakeApiServer.js"
import { ns, secretOf } from "./fixtures.js"

const desired: DesiredSecret = {
  name: "s",
  namespace: ns,
  type: "Opaque",
  data: { k: "dg==" },
  labels: { "secrets-store.csi.k8s.io/managed": "true" },
  annotations: {}
}
const rs = { apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid: "rs-uid" }
const existing = (over: Record<string, unknown> = {}) => ({
  metadata: {
    name: "s",
    resourceVersion: "7",
    labels: { "secrets-store.csi.k8s.io/managed": "true" },
    ownerReferences: [rs]
  },
  type: "Opaque",
  data: { k: "dg==" },
  ...over
})

describe("secretPatch", () => {
  it("nothing differs: no patch (a resync writes nothing)", () => {
    assert.isUndefined(secretPatch(existing(), desired, [rs]))
  })

  it("changed data, a stale key removed, a new owner appended, resourceVersion as the lock", () => {
    const other = { apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs2", uid: "rs2-uid" }
    const patch = secretPatch(existing({ data: { k: "b2xk", gone: "eA==" } }), desired, [rs, other])
    assert.deepStrictEqual(patch, {
      metadata: { ownerReferences: [rs, other], resourceVersion: "7" },
      data: { k: "dg==", gone: null }
    })
  })

  it("a different type is sent (the API server refuses to change it: reported, not hidden)", () => {
    assert.deepStrictEqual(secretPatch(existing({ type: "kubernetes.io/tls" }), desired, [rs]), {
      metadata: { resourceVersion: "7" },
      type: "Opaque"
    })
  })
})

const withApi = <A, E>(f: (api: KubeApiShape, server: FakeApiServer) => Effect.Effect<A, E>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      const api = yield* KubeApi.pipe(
        Effect.provide(
          KubeApi.layer({ kubeconfig: server.kubeconfigPath }).pipe(
            Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({})))
          )
        )
      )
      return yield* f(api, server)
    })
  )

describe("upsertSecret (fake API server)", () => {
  it.live("a 409 Conflict on the patch is retried with a fresh read", () =>
    withApi((api, server) =>
      Effect.gen(function* () {
        server.seed({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "s", namespace: ns },
          type: "Opaque",
          data: {}
        })
        server.failNext({ method: "PATCH", status: 409, reason: "Conflict" })
        assert.strictEqual(yield* upsertSecret(api, desired, [rs]), "patched")
        assert.strictEqual(server.requestsMatching({ method: "PATCH" }).length, 2)
        assert.deepStrictEqual(secretOf(server, "s")!.metadata["ownerReferences"], [rs])
      })
    )
  )

  it.live("losing a create race (AlreadyExists) turns into a patch", () =>
    withApi((api, server) =>
      Effect.gen(function* () {
        server.failNext({ method: "GET", path: `/api/v1/namespaces/${ns}/secrets/s`, status: 404 })
        server.seed({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "s", namespace: ns, labels: { x: "y" } },
          type: "Opaque"
        })
        assert.strictEqual(yield* upsertSecret(api, desired, [rs]), "patched")
        assert.deepStrictEqual(
          server.requests.map((r) => r.method),
          ["GET", "POST", "GET", "PATCH"]
        )
        assert.deepStrictEqual(secretOf(server, "s")!.metadata["labels"], {
          x: "y",
          "secrets-store.csi.k8s.io/managed": "true"
        })
      })
    )
  )
})
