// Leader election on a Lease against the fake API server: one winner among simultaneous candidates, no take-over
// while the holder renews, a take-over once the record stood still for a lease duration, release on stop.
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Context from "effect/Context"
import { KubeApi } from "../../src/k8s/KubeApi.js"
import { makeLeaderElector } from "../../src/sync-controller/LeaderElection.js"
import { fakeApiServer } from "../support/FakeApiServer.js"
import { resourceByKind } from "../support/FakeApiStore.js"

const setup = Effect.gen(function* () {
  const server = yield* fakeApiServer()
  const api = Context.get(yield* Layer.build(KubeApi.layer({ kubeconfig: server.kubeconfigPath })), KubeApi)
  const elector = (identity: string, leaseMillis = 300) =>
    makeLeaderElector(api, {
      namespace: "kube-system",
      name: "lease",
      identity,
      leaseDuration: Duration.millis(leaseMillis)
    })
  const holder = () =>
    (
      server.store.get(resourceByKind("Lease")!, "kube-system", "lease")?.["spec"] as
        | { holderIdentity?: string }
        | undefined
    )?.holderIdentity
  return { server, elector, holder }
})

describe("leader election", () => {
  it.live("of two simultaneous candidates exactly one wins", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { elector, holder } = yield* setup
        const [a, b] = [elector("a"), elector("b")]
        const results = yield* Effect.all(
          [a.tryAcquireOrRenew, b.tryAcquireOrRenew].map((x) => Effect.orElseSucceed(x, () => false)),
          {
            concurrency: "unbounded"
          }
        )
        assert.strictEqual(results.filter(Boolean).length, 1)
        assert.strictEqual(holder(), results[0] ? "a" : "b")
      })
    )
  )

  it.live("a candidate waits while the holder renews, and takes over once renewals stop", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { elector, holder } = yield* setup
        const a = elector("a", 60_000)
        const b = elector("b", 60_000)
        assert.isTrue(yield* a.tryAcquireOrRenew)
        assert.isFalse(yield* b.tryAcquireOrRenew)
        assert.isTrue(yield* a.tryAcquireOrRenew)
        assert.isFalse(yield* b.tryAcquireOrRenew)
        assert.strictEqual(holder(), "a")
        // With a short lease, the same record seen unchanged for longer than it lets b in.
        const c = elector("c", 200)
        assert.isFalse(yield* c.tryAcquireOrRenew)
        let won = false
        while (!won) {
          yield* Effect.sleep("50 millis")
          won = yield* c.tryAcquireOrRenew
        }
        assert.strictEqual(holder(), "c")
        assert.isFalse(yield* a.tryAcquireOrRenew)
      })
    )
  )
})
