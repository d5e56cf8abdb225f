// The checks behind /healthz and /readyz, each an Effect<void, string> whose failure is the one-line reason:
// a real CSI Probe against the driver's own endpoint (what livenessprobe does), the provider health-check results
// and the provider circuits. The API server's check is k8s/ApiServerReadiness.ts.
import * as path from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { createChannel, createClient } from "nice-grpc"
import type { Endpoint } from "../config/DriverConfig.js"
import { IdentityDefinition } from "../gen/csi/v1/csi.js"

/** The driver's own --endpoint, probed like the livenessprobe sidecar probes it. */
export type CsiEndpoint = Endpoint

/** livenessprobe's default --probe-timeout. */
const PROBE_TIMEOUT: Duration.Input = "3 seconds"

/** nice-grpc wants `unix://` + an absolute path; a server listening on every interface is reached on loopback. */
export const channelAddress = (endpoint: CsiEndpoint): string => {
  if (endpoint._tag === "unix") return `unix://${path.resolve(endpoint.path)}`
  const host =
    endpoint.host === "" || endpoint.host === "0.0.0.0" ? "127.0.0.1" : endpoint.host === "::" ? "[::1]" : endpoint.host
  return `${host}:${endpoint.port}`
}

/** First line only; grpc-js appends an empty "Resolution note:" to connect failures. */
const describeError = (cause: unknown) =>
  ((cause instanceof Error ? cause.message : String(cause)).split("\n")[0] ?? "").replace(/\s*Resolution note:\s*$/, "")

/** One Identity.Probe call on a fresh channel (so a replaced socket is seen), closed afterwards. */
export const csiProbe = (endpoint: CsiEndpoint, timeout: Duration.Input = PROBE_TIMEOUT): Effect.Effect<void, string> =>
  Effect.acquireUseRelease(
    Effect.sync(() => createChannel(channelAddress(endpoint))),
    (channel) =>
      Effect.tryPromise({
        try: (signal) => createClient(IdentityDefinition, channel).probe({}, { signal }),
        catch: (cause) => `CSI probe failed: ${describeError(cause)}`
      }).pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () => Effect.fail(`CSI probe timed out after ${Duration.format(Duration.fromInputUnsafe(timeout))}`)
        }),
        // An unset `ready` means ready (CSI spec).
        Effect.flatMap((response) =>
          response.ready === false ? Effect.fail("CSI probe answered not ready") : Effect.void
        )
      ),
    (channel) => Effect.sync(() => channel.close())
  )

/** The last provider health-check results (ProviderClient.health); unhealthy providers are named in the reason. */
export const providersCheck = (
  health: Effect.Effect<ReadonlyMap<string, { readonly healthy: boolean; readonly detail: string }>>
): Effect.Effect<void, string> =>
  Effect.flatMap(health, (results) => {
    const failing = [...results].filter(([, result]) => !result.healthy)
    return failing.length === 0
      ? Effect.void
      : Effect.fail(failing.map(([provider, result]) => `${provider}: ${result.detail.split("\n")[0]}`).join("; "))
  })

/** A provider circuit as /readyz reads it from ProviderClient.circuits (metrics/ does not import provider/). */
export type CircuitView =
  | { readonly _tag: "Closed" }
  | { readonly _tag: "HalfOpen"; readonly trialInFlight: boolean }
  | { readonly _tag: "Open"; readonly until: number }

/**
 * Not ready while a provider's circuit refuses calls: open, or half-open with its trial in flight. A half-open
 * circuit waiting for its trial lets the next call through, so it is no reason to be unready.
 */
export const circuitsCheck = (circuits: Effect.Effect<ReadonlyMap<string, CircuitView>>): Effect.Effect<void, string> =>
  Effect.flatMap(circuits, (states) => {
    const notClosed = [...states].filter(
      ([, state]) => state._tag === "Open" || (state._tag === "HalfOpen" && state.trialInFlight)
    )
    return notClosed.length === 0
      ? Effect.void
      : Effect.fail(
          notClosed
            .map(([provider, state]) =>
              state._tag === "Open"
                ? `${provider}: circuit open until ${new Date(state.until).toISOString().replace(/\.\d{3}Z$/, "Z")}`
                : `${provider}: circuit half-open, its trial call in flight`
            )
            .join("; ")
        )
  })
