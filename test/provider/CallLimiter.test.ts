// The per-provider call limit: calls beyond it start in arrival order, other providers are not held up, and the
// provider deadline still applies to a call waiting for a slot (through the live client and a real provider).
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import { makeCallLimiter } from "../../src/provider/CallLimiter.js"
import { encodeMountRequest } from "../../src/provider/MountRequestEncoding.js"
import { ProviderClient, type ProviderClientOptions } from "../../src/provider/ProviderClient.js"
import { hang, makeTestProvider, respondFiles } from "../support/TestProvider.js"

const request = encodeMountRequest({
  parameters: { objects: "- objectName: foo" },
  volumeContext: {},
  secrets: Redacted.make({}),
  targetPath: "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/v/mount"
})

describe("CallLimiter", () => {
  it.effect("with 2 slots, 8 queued calls start in arrival order", () =>
    Effect.gen(function* () {
      const limiter = makeCallLimiter(2)
      const started: Array<number> = []
      const gates = yield* Effect.forEach(Array.from({ length: 8 }), () => Deferred.make<void>())
      const fibers: Array<Fiber.Fiber<void>> = []
      for (let i = 0; i < 8; i++) {
        const call = Effect.andThen(
          Effect.sync(() => void started.push(i)),
          Deferred.await(gates[i]!)
        )
        fibers.push(yield* Effect.forkChild(limiter.limit("p", call)))
        yield* Effect.yieldNow
      }
      assert.deepStrictEqual(started, [0, 1])
      // Release out of order: the next to start is always the oldest waiter.
      for (const i of [1, 0, 3, 2, 5, 4, 7, 6]) {
        yield* Deferred.succeed(gates[i]!, undefined)
        for (let k = 0; k < 5; k++) yield* Effect.yieldNow
      }
      yield* Fiber.joinAll(fibers)
      assert.deepStrictEqual(started, [0, 1, 2, 3, 4, 5, 6, 7])
    })
  )

  it.effect("a full provider does not hold up another; 0 means unlimited", () =>
    Effect.gen(function* () {
      const limiter = makeCallLimiter(1)
      const gate = yield* Deferred.make<void>()
      const busy = yield* Effect.forkChild(limiter.limit("a", Deferred.await(gate)))
      yield* Effect.yieldNow
      assert.strictEqual(yield* limiter.limit("b", Effect.succeed("b")), "b")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(busy)
      const unlimited = makeCallLimiter(0)
      const all = yield* Effect.forEach(Array.from({ length: 50 }), () => unlimited.limit("a", Effect.succeed(1)), {
        concurrency: "unbounded"
      })
      assert.strictEqual(all.length, 50)
    })
  )
})

/** The live client with one call slot per provider and a 1 s deadline. */
const limitedClient = (providerDir: string, overrides: Partial<ProviderClientOptions> = {}) =>
  ProviderClient.layer({
    providerDirs: [providerDir],
    maxCallRecvMsgSize: 4 * 1024 * 1024,
    maxProviderFiles: 10_000,
    providerTimeout: "1 second",
    healthCheck: false,
    healthCheckInterval: "2 minutes",
    maxConcurrentCalls: 1,
    ...overrides
  })

describe("--provider-max-concurrent-calls through the live client", () => {
  it.live("calls queued behind a hung one fail at their own deadline without ever reaching the provider", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(hang)
      const exits = yield* Effect.gen(function* () {
        const client = yield* ProviderClient
        return yield* Effect.forEach(Array.from({ length: 20 }), () => Effect.exit(client.mount("test", request)), {
          concurrency: "unbounded"
        })
      }).pipe(Effect.provide(limitedClient(provider.dir)))
      const reasons = exits.map((exit) => {
        const error = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
        return error?._tag === "Some" ? error.value.reason : "none"
      })
      assert.deepStrictEqual(new Set(reasons), new Set(["ProviderTimeout"]))
      // Had the deadline started only with a slot, every call would have reached the hung provider in turn.
      assert.isBelow(provider.mountRequests().length, 20)
    })
  )

  it.live(
    "a burst that times out in the queue does not open the circuit: the provider answered every call it got",
    () =>
      Effect.gen(function* () {
        const provider = yield* makeTestProvider()
        provider.onMount(async (request, context) => {
          await new Promise((resolve) => setTimeout(resolve, 400))
          return respondFiles([{ path: "a", contents: "x" }])(request, context)
        })
        yield* Effect.gen(function* () {
          const client = yield* ProviderClient
          const exits = yield* Effect.forEach(
            Array.from({ length: 10 }),
            () => Effect.exit(client.mount("test", request)),
            {
              concurrency: "unbounded"
            }
          )
          assert.isTrue(exits.some(Exit.isFailure), "the queue's deadline was reached")
          const circuit = (yield* client.circuits).get("test")
          assert.strictEqual(circuit?._tag ?? "Closed", "Closed")
          yield* client.mount("test", request)
        }).pipe(Effect.provide(limitedClient(provider.dir, { circuitThreshold: 3 })))
      })
  )
})
