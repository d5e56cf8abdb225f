// Runs Effect programs inside the CSI server's promise handlers through platform/EffectBridge.ts: kubelet's
// cancellation reaches the fiber through the call's AbortSignal, every failure leaves as a gRPC status chosen by
// toStatus.ts, and every handler fiber is tracked until it ends, so the server's close can wait for the cleanup of
// cancelled ones.
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { ServerError, Status } from "nice-grpc"
import { isTypedFailure, type TypedFailure } from "../domain/FailureReason.js"
import { exitOf, makeEffectBridge } from "../platform/EffectBridge.js"
import { defectToServerError, toServerError } from "./toStatus.js"

type RunHandler = <A, E extends TypedFailure>(
  method: string,
  effect: Effect.Effect<A, E>,
  signal: AbortSignal
) => Promise<A>

/** The handler fibers still running; each removes itself when it ends (after its finalizers). */
export class InFlightHandlers extends Context.Service<InFlightHandlers, Set<Fiber.Fiber<unknown, unknown>>>()(
  "InFlightHandlers"
) {}

/**
 * Interrupts every handler still running and waits until all of them have ended, finalizers included: a
 * publish cut off by shutdown must roll back its tmpfs and half-written files before the process exits. A
 * finalizer that hangs must not keep the driver alive forever, so the wait is bounded and then logged.
 */
export const settleHandlers = (handlers: ReadonlySet<Fiber.Fiber<unknown, unknown>>, timeout: Duration.Input) =>
  handlers.size === 0
    ? Effect.void
    : Effect.logInfo("waiting for cancelled calls to clean up", { calls: handlers.size }).pipe(
        Effect.andThen(Fiber.interruptAll([...handlers])),
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () =>
            Effect.logWarning("cancelled calls did not finish their cleanup in time; stopping without them", {
              calls: handlers.size,
              timeout: String(timeout)
            })
        })
      )

const toError = (method: string, cause: Cause.Cause<TypedFailure>): ServerError => {
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure) && isTypedFailure(failure.value)) return toServerError(failure.value)
  if (Cause.hasInterruptsOnly(cause)) return new ServerError(Status.CANCELLED, `${method} was cancelled`)
  return defectToServerError(method)
}

export const makeHandlerRunner: Effect.Effect<RunHandler, never, InFlightHandlers> = Effect.gen(function* () {
  const bridge = yield* makeEffectBridge()
  const handlers = yield* InFlightHandlers
  return async <A, E extends TypedFailure>(method: string, effect: Effect.Effect<A, E>, signal: AbortSignal) => {
    const logged = effect.pipe(
      Effect.tapCause((cause) =>
        Cause.hasInterruptsOnly(cause) || Option.isSome(Cause.findErrorOption(cause))
          ? Effect.void
          : Effect.logError(`defect in ${method}`, cause)
      ),
      Effect.withSpan(method)
    )
    // An aborted signal interrupts the fiber (kubelet or shutdown cancelling the call). The fiber's
    // observers run once it has ended, after its finalizers, so the reply never races the cleanup.
    const fiber = bridge.fork(Effect.exit(logged), signal)
    handlers.add(fiber)
    fiber.addObserver(() => handlers.delete(fiber))
    const exit = await exitOf(fiber)
    if (Exit.isFailure(exit)) throw new ServerError(Status.CANCELLED, `${method} was cancelled`)
    if (Exit.isSuccess(exit.value)) return exit.value.value
    throw toError(method, exit.value.cause)
  }
})
