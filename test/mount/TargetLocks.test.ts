// Per-target serialization: FIFO and exclusive per target, parallel across targets, no growth,
// and interruption of a waiter never strands the lock.
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TargetLocks } from "../../src/mount/TargetLocks.js"

const withLocks = <A, E>(body: Effect.Effect<A, E, TargetLocks>) => body.pipe(Effect.provide(TargetLocks.layer))

// startImmediately: the fiber runs up to its first suspension, so it has queued before the next fork.
const forkNow = <A, E>(effect: Effect.Effect<A, E>) => Effect.forkChild(effect, { startImmediately: true })

describe("TargetLocks", () => {
  it.effect("same target: one at a time, in arrival order", () =>
    withLocks(
      Effect.gen(function* () {
        const locks = yield* TargetLocks
        const gate = yield* Deferred.make<void>()
        const order: Array<number> = []
        let running = 0
        let maxRunning = 0
        const job = (i: number) =>
          locks.withLock(
            "/var/lib/kubelet/pods/p/volumes/v/mount",
            Effect.gen(function* () {
              running++
              maxRunning = Math.max(maxRunning, running)
              order.push(i)
              if (i === 0) yield* Deferred.await(gate)
              yield* Effect.yieldNow
              running--
            })
          )
        const fibers: Array<Fiber.Fiber<void>> = []
        for (let i = 0; i < 8; i++) fibers.push(yield* forkNow(job(i)))
        assert.deepStrictEqual(order, [0])
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.joinAll(fibers)
        assert.deepStrictEqual(order, [0, 1, 2, 3, 4, 5, 6, 7])
        assert.strictEqual(maxRunning, 1)
        assert.strictEqual(yield* locks.activeTargets, 0)
      })
    )
  )

  it.effect("paths are normalized: a trailing slash is the same target", () =>
    withLocks(
      Effect.gen(function* () {
        const locks = yield* TargetLocks
        const gate = yield* Deferred.make<void>()
        const entered = yield* Deferred.make<void>()
        const first = yield* forkNow(locks.withLock("/t/mount", Deferred.await(gate)))
        const second = yield* forkNow(locks.withLock("/t/mount/", Deferred.succeed(entered, undefined)))
        assert.isFalse(yield* Deferred.isDone(entered))
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.joinAll([first, second])
        assert.isTrue(yield* Deferred.isDone(entered))
      })
    )
  )

  it.effect("different targets run concurrently", () =>
    withLocks(
      Effect.gen(function* () {
        const locks = yield* TargetLocks
        const inA = yield* Deferred.make<void>()
        const inB = yield* Deferred.make<void>()
        // Each holder waits for the other to be inside: this only completes if they overlap.
        const a = yield* forkNow(
          locks.withLock("/a", Effect.andThen(Deferred.succeed(inA, undefined), Deferred.await(inB)))
        )
        const b = yield* forkNow(
          locks.withLock("/b", Effect.andThen(Deferred.succeed(inB, undefined), Deferred.await(inA)))
        )
        yield* Fiber.joinAll([a, b])
        assert.strictEqual(yield* locks.activeTargets, 0)
      })
    )
  )

  it.effect("no growth: the map is empty after 10,000 distinct targets", () =>
    withLocks(
      Effect.gen(function* () {
        const locks = yield* TargetLocks
        let peak = 0
        yield* Effect.forEach(
          Array.from({ length: 10_000 }, (_, i) => `/pods/${i}/mount`),
          (target) =>
            locks.withLock(
              target,
              Effect.gen(function* () {
                yield* Effect.yieldNow
                const n = yield* locks.activeTargets
                peak = Math.max(peak, n)
              })
            ),
          { concurrency: 64, discard: true }
        )
        assert.isAbove(peak, 1)
        assert.strictEqual(yield* locks.activeTargets, 0)
      })
    )
  )

  it.effect("failures and defects release the lock", () =>
    withLocks(
      Effect.gen(function* () {
        const locks = yield* TargetLocks
        const failed = yield* Effect.flip(locks.withLock("/f", Effect.fail("boom")))
        assert.strictEqual(failed, "boom")
        yield* Effect.exit(locks.withLock("/f", Effect.die("defect")))
        assert.strictEqual(yield* locks.withLock("/f", Effect.succeed(42)), 42)
        assert.strictEqual(yield* locks.activeTargets, 0)
      })
    )
  )

  it.effect("an interrupted waiter does not block the next one", () =>
    withLocks(
      Effect.gen(function* () {
        const locks = yield* TargetLocks
        const gate = yield* Deferred.make<void>()
        const ran: Array<string> = []
        const holder = yield* forkNow(locks.withLock("/x", Deferred.await(gate)))
        const waiter = yield* forkNow(
          locks.withLock(
            "/x",
            Effect.sync(() => void ran.push("interrupted waiter"))
          )
        )
        const next = yield* forkNow(
          locks.withLock(
            "/x",
            Effect.sync(() => void ran.push("next"))
          )
        )
        yield* Fiber.interrupt(waiter)
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.joinAll([holder, next])
        assert.deepStrictEqual(ran, ["next"])
        assert.strictEqual(yield* locks.activeTargets, 0)
      })
    )
  )

  it.effect("interrupting the holder hands the lock to the next waiter", () =>
    withLocks(
      Effect.gen(function* () {
        const locks = yield* TargetLocks
        const holder = yield* forkNow(locks.withLock("/y", Effect.never))
        const next = yield* forkNow(locks.withLock("/y", Effect.succeed("got it")))
        yield* Fiber.interrupt(holder)
        assert.strictEqual(yield* Fiber.join(next), "got it")
        assert.strictEqual(yield* locks.activeTargets, 0)
      })
    )
  )

  it.effect("the only waiter interrupted while the holder runs leaves no entry behind", () =>
    withLocks(
      Effect.gen(function* () {
        const locks = yield* TargetLocks
        const gate = yield* Deferred.make<void>()
        const holder = yield* forkNow(locks.withLock("/z", Deferred.await(gate)))
        const waiter = yield* forkNow(locks.withLock("/z", Effect.void))
        yield* Fiber.interrupt(waiter)
        assert.strictEqual(yield* locks.activeTargets, 1)
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(holder)
        assert.strictEqual(yield* locks.activeTargets, 0)
      })
    )
  )
})
