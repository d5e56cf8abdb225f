// The optional Version health-check loop (--provider-health-check): every dialled provider in turn, its last
// answer kept for /readyz and the metric; a provider whose socket left every directory is forgotten, not failing.
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type { VersionResponse } from "../gen/provider/v1alpha1/service.js"
import { callOnce, withDeadline } from "./ProviderCall.js"
import type { ProviderChannels } from "./ProviderChannels.js"
import { MAX_DETAILS_CHARS, printable } from "./ProviderText.js"

/** The last health-check answer of one provider. */
export interface ProviderHealth {
  readonly healthy: boolean
  /** Epoch milliseconds (from Clock). */
  readonly checkedAt: number
  /** `runtimeName runtimeVersion (version)` when healthy, the failure otherwise. */
  readonly detail: string
}

// Upstream's health check gives each Version call 5 seconds.
/** Where each answer goes (the metric); `undefined`: the provider's socket is gone, so it is no longer checked. */
export interface HealthReport {
  readonly healthChecked: (provider: string, healthy: boolean | undefined) => Effect.Effect<void>
}

const HEALTH_CHECK_TIMEOUT = Duration.seconds(5)

// The Version strings are the provider's own words, logged on every health check.
const describeVersion = (v: VersionResponse) =>
  printable(`${v.runtimeName} ${v.runtimeVersion} (${v.version})`, MAX_DETAILS_CHARS)

export const makeHealthCheck = (
  channels: ProviderChannels,
  results: Map<string, ProviderHealth>,
  report: HealthReport | undefined
) => {
  const checkOne = (provider: string) =>
    callOnce(channels, provider, (client, signal) => client.version({ version: "v1alpha1" }, { signal })).pipe(
      withDeadline(provider, HEALTH_CHECK_TIMEOUT),
      Effect.exit,
      Effect.flatMap((exit) =>
        Effect.gen(function* () {
          const failure = Exit.findErrorOption(exit)
          if (Option.isSome(failure) && failure.value.reason === "ProviderNotFound") {
            // No socket in any directory: the provider was removed from the node, not failing. It leaves the
            // check (and /readyz, and the health metric) until a Mount call finds it again.
            results.delete(provider)
            yield* channels.forget(provider)
            yield* report?.healthChecked(provider, undefined) ?? Effect.void
            return yield* Effect.logInfo("provider gone from the node: no longer health-checked", { provider })
          }
          const checkedAt = yield* Clock.currentTimeMillis
          const healthy = Exit.isSuccess(exit)
          const detail = Exit.isSuccess(exit)
            ? describeVersion(exit.value)
            : Option.match(Exit.findErrorOption(exit), { onNone: () => "health check died", onSome: (e) => e.message })
          results.set(provider, { healthy, checkedAt, detail })
          yield* report?.healthChecked(provider, healthy) ?? Effect.void
          yield* healthy
            ? Effect.logDebug("provider health check passed", { provider, detail })
            : Effect.logWarning("provider health check failed", { provider, detail })
        })
      )
    )
  return channels.providers.pipe(
    Effect.flatMap((providers) => Effect.forEach(providers, checkOne, { concurrency: "unbounded", discard: true }))
  )
}
