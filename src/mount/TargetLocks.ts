// Per-target serialization (docs/contract.md#per-target-serialization): calls for one target path run one after another
// in arrival order, different targets run in parallel, and a target's entry lives only while someone holds or waits for
// it.
import * as nodePath from "node:path"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export interface TargetLocksShape {
  /** Runs `effect` while holding the lock of `target` (normalized with path.resolve). */
  readonly withLock: <A, E, R>(target: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Targets that currently have a holder or a waiter. */
  readonly activeTargets: Effect.Effect<number>
}

interface Entry {
  // Ownership is handed straight from the releasing holder to the first waiter, so no late
  // arrival can overtake the queue.
  readonly waiters: Array<Deferred.Deferred<void>>
}

const makeLocks = (): TargetLocksShape => {
  const entries = new Map<string, Entry>()

  /** Takes the lock now (undefined) or returns the ticket to wait on. */
  const enqueue = (key: string): Deferred.Deferred<void> | undefined => {
    const entry = entries.get(key)
    if (entry === undefined) {
      entries.set(key, { waiters: [] })
      return undefined
    }
    const ticket = Deferred.makeUnsafe<void>()
    entry.waiters.push(ticket)
    return ticket
  }

  const release = (key: string): void => {
    const entry = entries.get(key)
    if (entry === undefined) return
    const next = entry.waiters.shift()
    if (next === undefined) entries.delete(key)
    else Deferred.doneUnsafe(next, Effect.void)
  }

  // An interrupted waiter either leaves the queue or, if ownership reached it meanwhile, passes it on.
  const abandon = (key: string, ticket: Deferred.Deferred<void>): void => {
    const waiters = entries.get(key)?.waiters
    const at = waiters?.indexOf(ticket) ?? -1
    if (waiters !== undefined && at >= 0) waiters.splice(at, 1)
    else release(key)
  }

  const withLock = <A, E, R>(target: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const key = nodePath.resolve(target)
        const ticket = enqueue(key)
        if (ticket !== undefined) {
          yield* restore(Deferred.await(ticket)).pipe(Effect.onInterrupt(() => Effect.sync(() => abandon(key, ticket))))
        }
        return yield* restore(effect).pipe(Effect.ensuring(Effect.sync(() => release(key))))
      })
    ).pipe(Effect.withSpan("TargetLocks.withLock", { attributes: { target } }))

  return { withLock, activeTargets: Effect.sync(() => entries.size) }
}

export class TargetLocks extends Context.Service<TargetLocks, TargetLocksShape>()("TargetLocks") {
  static readonly layer: Layer.Layer<TargetLocks> = Layer.sync(TargetLocks, makeLocks)
}
