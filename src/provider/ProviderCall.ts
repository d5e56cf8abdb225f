// One call to a provider, the primitives every call is made of: an attempt on the cached channel (a broken
// connection drops it, so a retry dials afresh) and the driver's deadline around an attempt and its retries.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Client } from "nice-grpc"
import { fromCallFailure, isUnavailable, type ProviderCallError, providerTimeout } from "./ProviderCallError.js"
import type { ProviderChannels } from "./ProviderChannels.js"
import type { ProviderDefinition } from "./ProviderDefinition.js"

export type ProviderGrpcClient = Client<ProviderDefinition>

/** One attempt: a broken connection (UNAVAILABLE) drops the channel so the retry dials afresh. */
export const callOnce = <A>(
  channels: ProviderChannels,
  provider: string,
  call: (client: ProviderGrpcClient, signal: AbortSignal) => Promise<A>
) =>
  Effect.gen(function* () {
    const dialled = yield* channels.acquire(provider)
    return yield* Effect.tryPromise({
      try: (signal) => call(dialled.client, signal),
      catch: (cause) => fromCallFailure(provider, cause)
    }).pipe(Effect.tapError((error) => (isUnavailable(error) ? channels.discard(provider, dialled) : Effect.void)))
  })

export const withDeadline =
  (provider: string, timeout: Duration.Input) =>
  <A>(effect: Effect.Effect<A, ProviderCallError>) =>
    Effect.timeoutOrElse(effect, {
      duration: timeout,
      orElse: () => Effect.fail(providerTimeout(provider, Duration.format(Duration.fromInputUnsafe(timeout))))
    })
