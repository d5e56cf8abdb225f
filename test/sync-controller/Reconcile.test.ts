// One reconcile with in-memory neighbours (provider client and Events in memory, the fake API server over HTTP):
// the Mount request as upstream sends it, tokens keyed by audience, the refusal of a foreign Secret.
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { decodeSecretSync } from "../../src/domain/SecretSync.js"
import { Events, EventsInMemory } from "../../src/k8s/Events.js"
import { KubeApi } from "../../src/k8s/KubeApi.js"
import { ProviderClientInMemory, ProviderClient } from "../../src/provider/ProviderClient.js"
import { ControllerMetrics } from "../../src/sync-controller/ControllerMetrics.js"
import { makeReconcile } from "../../src/sync-controller/Reconcile.js"
import { makeSyncHasher } from "../../src/sync-controller/SyncHash.js"
import { makeTokenSource } from "../../src/sync-controller/Tokens.js"
import { fakeApiServer } from "../support/FakeApiServer.js"
import { resourceByKind } from "../support/FakeApiStore.js"
import { ns, secretSync, spc } from "./world.js"

const files = [
  { path: "username", mode: 0o644, contents: Buffer.from("app") },
  {
    path: "password",
    mode: 0o644,
    contents: Buffer.from("pw")
  }
]

const setup = Effect.gen(function* () {
  const server = yield* fakeApiServer()
  server.seed({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "app", namespace: ns } })
  server.seed(spc())
  const ss = yield* decodeSecretSync(server.seed(secretSync("db")))
  const layer = Layer.mergeAll(
    KubeApi.layer({ kubeconfig: server.kubeconfigPath }),
    Events.layerInMemory,
    ControllerMetrics.layer,
    ProviderClient.layerInMemory({ reference: { objectVersions: [{ id: "a", version: "1" }], files } })
  )
  const context = yield* Layer.build(layer)
  const api = Context.get(context, KubeApi)
  const reconcile = makeReconcile({
    api,
    providers: Context.get(context, ProviderClient),
    tokens: makeTokenSource(api),
    hasher: makeSyncHasher(),
    audiences: { all: ["aud-a"], byProvider: { reference: ["aud-b"] } },
    pod: { name: "ssc-0", uid: "ssc-uid" },
    events: Context.get(context, Events),
    metrics: Context.get(context, ControllerMetrics),
    applied: new Map()
  })
  return { server, ss, reconcile, context }
})

describe("SecretSync reconcile", () => {
  it.live("sends upstream's Mount request: pod keys, tokens by audience, secrets {}, permission 420, dummy path", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { ss, reconcile, context } = yield* setup
        const result = yield* reconcile(ss)
        assert.isTrue(result.ok)
        const [call] = yield* Context.get(context, ProviderClientInMemory).requests
        assert.strictEqual(call!.provider, "reference")
        const { request } = call!
        assert.strictEqual(request.secrets, "{}")
        assert.strictEqual(request.permission, "420")
        assert.strictEqual(request.targetPath, "/mnt/secrets-store")
        const attributes = JSON.parse(request.attributes) as Record<string, string>
        assert.strictEqual(attributes["csi.storage.k8s.io/pod.name"], "ssc-0")
        assert.strictEqual(attributes["csi.storage.k8s.io/pod.uid"], "ssc-uid")
        assert.strictEqual(attributes["csi.storage.k8s.io/pod.namespace"], ns)
        assert.strictEqual(attributes["csi.storage.k8s.io/serviceAccount.name"], "app")
        assert.isString(attributes["objects"])
        const tokens = JSON.parse(attributes["csi.storage.k8s.io/serviceAccount.tokens"]!) as Record<
          string,
          { token: string; expirationTimestamp: string }
        >
        assert.deepStrictEqual(Object.keys(tokens), ["aud-a", "aud-b"])
        const claims = JSON.parse(Buffer.from(tokens["aud-b"]!.token.split(".")[1]!, "base64url").toString()) as {
          aud: Array<string>
        }
        assert.deepStrictEqual(claims.aud, ["aud-b"])
      })
    )
  )

  it.live("never takes over a foreign Secret of the same name: a typed ControllerPatchError, the Secret intact", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { server, ss, reconcile, context } = yield* setup
        // Someone else's Secret, written by another field manager through server-side apply.
        const foreign = {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "db", namespace: ns },
          data: { user: "Zm9yZWlnbg==" }
        }
        const { route } = yield* Effect.promise(() => import("../support/FakeApiRoutes.js"))
        route(
          server.store,
          "PATCH",
          { resource: resourceByKind("Secret")!, version: "v1", namespace: ns, name: "db" },
          new URLSearchParams({ fieldManager: "someone" }),
          foreign,
          "application/apply-patch+yaml"
        )
        const result = yield* reconcile(ss)
        assert.isFalse(result.ok)
        if (result.ok) return
        assert.strictEqual(result.failure.condition, "ControllerPatchError")
        assert.strictEqual(result.failure.reason, "KubernetesApiError")
        const secret = server.store.get(resourceByKind("Secret")!, ns, "db")!
        assert.deepStrictEqual(secret["data"], { user: "Zm9yZWlnbg==" })
        assert.isUndefined(secret.metadata["ownerReferences"])
        // No force was tried: this process never applied that Secret.
        assert.deepStrictEqual(
          server
            .requestsMatching({ method: "PATCH", path: `/api/v1/namespaces/${ns}/secrets/db` })
            .map((r) => r.query["force"]),
          [undefined]
        )
        const events = yield* Context.get(context, EventsInMemory).list
        assert.strictEqual(events[0]!.reason, "ControllerPatchError")
        assert.match(events[0]!.message, /^KubernetesApiError: failed to apply secret apps\/db/)
      })
    )
  )
})
