// The one way callback- and promise-based code (gRPC handlers, node:http listeners) runs Effect code: the context is
// captured once when the server is built, a call's AbortSignal interrupts its fiber, and a result is the fiber's
// Exit, delivered only once the fiber has ended, finalizers included.
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"

export interface EffectBridge<R> {
  /** Starts `effect` as a fiber in the captured context; an aborted `signal` interrupts it. */
  readonly fork: <A, E>(effect: Effect.Effect<A, E, R>, signal?: AbortSignal) => Fiber.Fiber<A, E>
  /** Runs `effect` to its Exit; resolves after the fiber's finalizers. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, R>, signal?: AbortSignal) => Promise<Exit.Exit<A, E>>
}

/** The Exit of a fiber, once it has ended. */
export const exitOf = <A, E>(fiber: Fiber.Fiber<A, E>): Promise<Exit.Exit<A, E>> =>
  new Promise((resolve) => void fiber.addObserver(resolve))

/** A bridge into the context of the effect that makes it (logger, verbosity, services). */
export const makeEffectBridge = <R = never>(): Effect.Effect<EffectBridge<R>, never, R> =>
  Effect.map(Effect.context<R>(), (context) => {
    const forkWith = Effect.runForkWith(context)
    const fork = <A, E>(effect: Effect.Effect<A, E, R>, signal?: AbortSignal) =>
      signal === undefined ? forkWith(effect) : forkWith(effect, { signal })
    return { fork, run: (effect, signal) => exitOf(fork(effect, signal)) }
  })
