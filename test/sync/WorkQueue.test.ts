// The work queue's promises: a key is queued once, never worked on twice at a time, retried after a doubling
// backoff when it failed, and forgotten once it succeeds (so memory follows the work).
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { failedKeyDelay, makeWorkQueue } from "../../src/sync/WorkQueue.js"

const backoff = { base: Duration.millis(40), max: Duration.millis(100) }
const nothingWithin = (take: Effect.Effect<string>, ms: number) =>
  Effect.map(Effect.timeoutOption(take, Duration.millis(ms)), Option.isNone)

describe("WorkQueue", () => {
  it("failedKeyDelay doubles from base and stops at max", () => {
    const delays = [1, 2, 3, 4, 50].map((n) =>
      Duration.toMillis(failedKeyDelay({ base: Duration.seconds(1), max: Duration.minutes(2) }, n))
    )
    assert.deepStrictEqual(delays, [1000, 2000, 4000, 8000, 120_000])
  })

  it.live("a key added many times is taken once; keys keep their order", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const q = yield* makeWorkQueue(backoff)
        yield* Effect.forEach(["a", "a", "b", "a"], q.add)
        assert.strictEqual(yield* q.take, "a")
        assert.strictEqual(yield* q.take, "b")
        assert.isTrue(yield* nothingWithin(q.take, 30))
      })
    )
  )

  it.live("a key changed while in progress is handed out again only after done", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const q = yield* makeWorkQueue(backoff)
        yield* q.add("a")
        assert.strictEqual(yield* q.take, "a")
        yield* q.add("a")
        yield* q.add("a")
        assert.isTrue(yield* nothingWithin(q.take, 30), "no second worker gets a")
        yield* q.done("a", false)
        assert.strictEqual(yield* q.take, "a")
        yield* q.done("a", false)
        assert.isTrue(yield* nothingWithin(q.take, 30), "the two adds made one rerun")
        assert.strictEqual(yield* q.tracked, 0)
      })
    )
  )

  it.live("a failed key comes back after its backoff, which doubles, and success forgets it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const q = yield* makeWorkQueue(backoff)
        yield* q.add("a")
        yield* q.take
        yield* q.done("a", true)
        assert.strictEqual(yield* q.tracked, 1)
        assert.isTrue(yield* nothingWithin(q.take, 20))
        const [first] = yield* Effect.timed(q.take)
        yield* q.done("a", true)
        const [second] = yield* Effect.timed(q.take)
        assert.isAtLeast(Duration.toMillis(second), 70, "second retry waits ~2×base")
        assert.isBelow(Duration.toMillis(first), 60)
        yield* q.done("a", false)
        assert.strictEqual(yield* q.tracked, 0)
      })
    )
  )

  it.live("forget resets a key's backoff (its object was deleted)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const q = yield* makeWorkQueue(backoff)
        yield* q.add("a")
        for (let n = 0; n < 3; n++) {
          yield* q.take
          yield* q.done("a", true)
        }
        yield* q.take
        yield* q.forget("a")
        yield* q.done("a", true)
        const [delay] = yield* Effect.timed(q.take)
        assert.isBelow(Duration.toMillis(delay), 80, "back to base, not the 100 ms cap")
      })
    )
  )

  it.live("closing the scope ends pending retries", () =>
    Effect.gen(function* () {
      const q = yield* Effect.scoped(
        Effect.gen(function* () {
          const q = yield* makeWorkQueue(backoff)
          yield* q.add("a")
          yield* q.take
          yield* q.done("a", true)
          return q
        })
      )
      assert.isTrue(yield* nothingWithin(q.take, 120))
    })
  )
})
