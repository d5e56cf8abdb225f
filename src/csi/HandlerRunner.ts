// Runs Effect programs inside nice-grpc's promise handlers: the Effect context is captured once
// when the server layer is built, kubelet's cancellation reaches the fiber through the call's
// AbortSignal, and every failure leaves as a gRPC status chosen by toStatus.ts.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { ServerError, Status } from "nice-grpc"
import { isTypedFailure, type TypedFailure } from "../domain/FailureReason.js"
import { defectToServerError, toServerError } from "./toStatus.js"

export type RunHandler = <A, E extends TypedFailure>(
  method: string,
  effect: Effect.Effect<A, E>,
  signal: AbortSignal
) => Promise<A>

const toError = (method: string, cause: Cause.Cause<TypedFailure>): ServerError => {
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure) && isTypedFailure(failure.value)) return toServerError(failure.value)
  if (Cause.hasInterruptsOnly(cause)) return new ServerError(Status.CANCELLED, `${method} was cancelled`)
  return defectToServerError(method)
}

export const makeHandlerRunner: Effect.Effect<RunHandler> = Effect.gen(function*() {
  const context = yield* Effect.context<never>()
  const run = Effect.runPromiseWith(context)
  return async <A, E extends TypedFailure>(method: string, effect: Effect.Effect<A, E>, signal: AbortSignal) => {
    const logged = effect.pipe(
      Effect.tapCause((cause) =>
        Cause.hasInterruptsOnly(cause) || Option.isSome(Cause.findErrorOption(cause))
          ? Effect.void
          : Effect.logError(`defect in ${method}`, cause)
      ),
      Effect.withSpan(method)
    )
    // An aborted signal interrupts the fiber, and then the promise rejects instead of
    // resolving an Exit: that is kubelet (or shutdown) cancelling the call.
    const exit = await run(Effect.exit(logged), { signal }).catch(() => undefined)
    if (exit === undefined) throw new ServerError(Status.CANCELLED, `${method} was cancelled`)
    if (Exit.isSuccess(exit)) return exit.value
    throw toError(method, exit.cause)
  }
})
