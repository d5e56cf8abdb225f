// A work queue like client-go's: keys, not objects (the reconciler reads the current object itself), each key
// queued at most once, never handed to two workers at a time, and a failed key retried after a per-key backoff.
// It remembers only the keys that are queued, in progress, or failing: memory stays with the work, not the cluster.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"

export interface WorkQueue {
  /** Queue `key` unless it already waits; a key in progress is queued again when its worker is done. */
  readonly add: (key: string) => Effect.Effect<void>
  /** The next key; the caller owns it until `done`. */
  readonly take: Effect.Effect<string>
  /** Releases a key taken with `take`; `failed` schedules a retry after the key's backoff, success resets it. */
  readonly done: (key: string, failed: boolean) => Effect.Effect<void>
  /** Forgets a key's failures (its object was deleted). */
  readonly forget: (key: string) => Effect.Effect<void>
  /** Keys the queue currently remembers (queued, in progress, failing): for tests and memory checks. */
  readonly tracked: Effect.Effect<number>
}

export interface RetryBackoff {
  /** Delay after the first failure of a key. */
  readonly base: Duration.Duration
  /** Cap of the doubling delay. */
  readonly max: Duration.Duration
}

/** Failed-key backoff: base, 2×base, 4×base… up to max (client-go's per-item exponential limiter). */
export const failedKeyDelay = (backoff: RetryBackoff, failures: number): Duration.Duration =>
  Duration.min(Duration.times(backoff.base, 2 ** Math.min(failures - 1, 30)), backoff.max)

/** The queue; pending retry timers are fibers of the current scope, so they end with it. */
export const makeWorkQueue = (backoff: RetryBackoff): Effect.Effect<WorkQueue, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const ready = yield* Queue.unbounded<string>()
    const queued = new Set<string>()
    const active = new Set<string>()
    const failures = new Map<string, number>()
    const waiting = new Set<string>()

    const addNow = (key: string) => {
      if (queued.has(key)) return
      queued.add(key)
      if (!active.has(key)) Queue.offerUnsafe(ready, key)
    }
    const add = (key: string) => Effect.sync(() => addNow(key))

    const take = Effect.map(Queue.take(ready), (key) => {
      queued.delete(key)
      active.add(key)
      return key
    })

    const retryLater = (key: string) => {
      const count = (failures.get(key) ?? 0) + 1
      failures.set(key, count)
      if (waiting.has(key)) return Effect.void
      waiting.add(key)
      return Effect.sleep(failedKeyDelay(backoff, count)).pipe(
        Effect.andThen(
          Effect.sync(() => {
            waiting.delete(key)
            addNow(key)
          })
        ),
        Effect.forkIn(scope),
        Effect.asVoid
      )
    }

    const done = (key: string, failed: boolean) =>
      Effect.suspend(() => {
        active.delete(key)
        if (queued.has(key)) Queue.offerUnsafe(ready, key)
        if (failed) return retryLater(key)
        failures.delete(key)
        return Effect.void
      })

    const forget = (key: string) => Effect.sync(() => void failures.delete(key))
    const tracked = Effect.sync(() => new Set([...queued, ...active, ...failures.keys(), ...waiting]).size)
    return { add, take, done, forget, tracked }
  })
