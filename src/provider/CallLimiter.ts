// The per-provider limit on concurrent calls (`--provider-max-concurrent-calls`, 0 = unlimited): calls beyond it
// wait in arrival order. Effect's Semaphore is FIFO for single permits (a new taker queues behind any waiter, and a
// release wakes the oldest waiter that fits), so one semaphore per provider is the queue.
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"

export interface CallLimiter {
  /** Runs `call` once one of the provider's slots is free; the caller's deadline covers the wait. */
  readonly limit: <A, E>(provider: string, call: Effect.Effect<A, E>) => Effect.Effect<A, E>
}

export const makeCallLimiter = (maxConcurrent: number): CallLimiter => {
  if (maxConcurrent <= 0) return { limit: (_provider, call) => call }
  // An entry lives while calls hold or wait for it, so names that come and go leave nothing behind.
  const entries = new Map<string, { readonly semaphore: Semaphore.Semaphore; users: number }>()
  const enter = (provider: string) => {
    const entry = entries.get(provider) ?? { semaphore: Semaphore.makeUnsafe(maxConcurrent), users: 0 }
    entry.users += 1
    entries.set(provider, entry)
    return entry
  }
  const leave = (provider: string, entry: { users: number }) => {
    entry.users -= 1
    if (entry.users === 0) entries.delete(provider)
  }
  return {
    limit: (provider, call) =>
      Effect.acquireUseRelease(
        Effect.sync(() => enter(provider)),
        (entry) => entry.semaphore.withPermit(call),
        (entry) => Effect.sync(() => leave(provider, entry))
      )
  }
}
