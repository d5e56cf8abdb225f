// ProviderClient: the driver's Mount calls to a provider over cached, self-healing channels, with the driver's own
// deadline, UNAVAILABLE-only retries (docs/contract.md#provider-deadline-and-retries), upstream's response checks
// (docs/upstream.md#mount-response-handling), the circuit breaker and call limit, and the optional Version
// health-check loop (ProviderHealthCheck.ts).
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { ProviderFile } from "../domain/ProviderFile.js"
import type { MountRequest } from "../gen/provider/v1alpha1/service.js"
import {
  isMessageTooLarge,
  isUnavailable,
  MESSAGE_TOO_LARGE_HINT,
  missingObjectVersions,
  pathNotUtf8,
  type ProviderCallError,
  providerErrorCode,
  tooManyFiles
} from "./ProviderCallError.js"
import { makeCallLimiter } from "./CallLimiter.js"
import { type CircuitState, makeCircuits } from "./CircuitBreaker.js"
import { makeProviderChannels } from "./ProviderChannels.js"
import { type InMemoryAnswer, makeInMemoryState, ProviderClientInMemory } from "./ProviderClientInMemory.js"
import { callOnce, type ProviderGrpcClient, withDeadline } from "./ProviderCall.js"
import type { CheckedMountResponse } from "./ProviderDefinition.js"
import { type HealthReport, makeHealthCheck, type ProviderHealth } from "./ProviderHealthCheck.js"

export { ProviderCallError } from "./ProviderCallError.js"
export {
  type InMemoryAnswer,
  ProviderClientInMemory,
  type ProviderClientInMemoryShape,
  type RecordedMount
} from "./ProviderClientInMemory.js"
export type { CircuitState } from "./CircuitBreaker.js"
export type { ProviderHealth } from "./ProviderHealthCheck.js"

export interface ObjectVersion {
  readonly id: string
  readonly version: string
}

export interface MountResult {
  readonly objectVersions: ReadonlyArray<ObjectVersion>
  /** Empty when the provider wrote the files itself (legacy providers, docs/upstream.md#mount-response-handling). */
  readonly files: ReadonlyArray<ProviderFile>
}

export interface ProviderClientShape {
  readonly mount: (provider: string, request: MountRequest) => Effect.Effect<MountResult, ProviderCallError>
  /** Last health-check result per provider; empty unless `--provider-health-check` is on. */
  readonly health: Effect.Effect<ReadonlyMap<string, ProviderHealth>>
  /** The circuit of each provider that has had an outage since its last answer; an absent provider is closed. */
  readonly circuits: Effect.Effect<ReadonlyMap<string, CircuitState>>
}

/** What the client tells the metrics: each Mount call that went out, circuit changes, health-check answers. */
export interface ProviderCallReport extends HealthReport {
  /**
   * `reason` undefined: the call succeeded. `seconds` includes the wait for a slot. Calls that never went out (an
   * open circuit, no such provider socket) are not reported.
   */
  readonly mountEnded: (
    provider: string,
    seconds: number,
    reason: ProviderCallError["reason"] | undefined
  ) => Effect.Effect<void>
  readonly circuitChanged: (provider: string, state: CircuitState) => Effect.Effect<void>
}

export interface ProviderClientOptions {
  /** Socket directories, already ordered: additional dirs first, then the provider volume. */
  readonly providerDirs: ReadonlyArray<string>
  /** `--max-call-recv-msg-size`, bytes. */
  readonly maxCallRecvMsgSize: number
  /** `--max-provider-files`: a Mount response with more files is InvalidProviderResponse, checked before decoding. */
  readonly maxProviderFiles: number
  /** `--provider-timeout`: the deadline of one provider call, retries included. */
  readonly providerTimeout: Duration.Input
  readonly healthCheck: boolean
  readonly healthCheckInterval: Duration.Input
  /** First delay of the UNAVAILABLE backoff; 1 second unless set. */
  readonly retryBaseDelay?: Duration.Input
  /** `--provider-circuit-threshold`: consecutive outages that open a provider's circuit; 0 (unset) never opens. */
  readonly circuitThreshold?: number
  /** `--provider-max-concurrent-calls`: Mount calls in flight per provider, the rest queue; 0 (unset) unlimited. */
  readonly maxConcurrentCalls?: number
  readonly report?: ProviderCallReport
}

// A Kubernetes Secret holds at most 1 MiB, so bigger responses cannot be synced
// (docs/upstream.md#mount-response-handling).
const SECRET_SIZE_LIMIT = 1024 * 1024

// Only UNAVAILABLE is retried (docs/contract.md#provider-deadline-and-retries), 3 attempts in all, backoff from the
// base delay (1 s) doubling up to 10 s, jittered so restarted providers are not hit by every pod at once.
const UNAVAILABLE_RETRIES = 2
const unavailableBackoff = (base: Duration.Input) =>
  Schedule.min([Schedule.exponential(base, 2), Schedule.spaced("10 seconds")]).pipe(Schedule.jittered)

const logTooLarge = (error: ProviderCallError) =>
  isMessageTooLarge(error)
    ? Effect.logWarning(`provider response larger than the maximum: ${MESSAGE_TOO_LARGE_HINT}`, {
        provider: error.provider
      })
    : Effect.void

const toMountResult = Effect.fn("ProviderClient.checkResponse")(function* (
  provider: string,
  checked: CheckedMountResponse
) {
  if (checked._tag === "TooManyFiles") return yield* Effect.fail(tooManyFiles(provider, checked.count, checked.limit))
  if (checked._tag === "PathNotUtf8") return yield* Effect.fail(pathNotUtf8(provider, checked.index))
  const { response, byteLength } = checked
  const code = response.error?.code ?? ""
  if (code !== "") return yield* Effect.fail(providerErrorCode(provider, code))
  if (response.objectVersion.length === 0) return yield* Effect.fail(missingObjectVersions(provider))
  if (byteLength > SECRET_SIZE_LIMIT) {
    const bytes = byteLength
    yield* Effect.logWarning("provider response is larger than 1 MiB: secret sync may fail", { provider, bytes })
  }
  // The decoded messages already have the shapes the caller reads: no per-file copy.
  return { objectVersions: response.objectVersion, files: response.files } satisfies MountResult
})

const makeLive = (options: ProviderClientOptions) =>
  Effect.gen(function* () {
    const channels = yield* makeProviderChannels(options)
    const healthResults = new Map<string, ProviderHealth>()
    const retryPolicy = {
      schedule: unavailableBackoff(options.retryBaseDelay ?? "1 second"),
      times: UNAVAILABLE_RETRIES,
      while: isUnavailable
    }

    const report = options.report
    const circuits = yield* makeCircuits({
      threshold: options.circuitThreshold ?? 0,
      ...(report === undefined ? {} : { onChange: report.circuitChanged })
    })
    const limiter = makeCallLimiter(options.maxConcurrentCalls ?? 0)

    // The deadline covers the wait for a slot as well as the retries: a queued call still fails in time. `reached`
    // is told once the call has its slot, so a deadline spent in the queue is not counted against the provider.
    const call = <A>(
      provider: string,
      f: (client: ProviderGrpcClient, signal: AbortSignal) => Promise<A>,
      reached?: () => void
    ) =>
      limiter
        .limit(
          provider,
          Effect.andThen(
            Effect.sync(() => reached?.()),
            callOnce(channels, provider, f).pipe(Effect.retry(retryPolicy))
          )
        )
        .pipe(withDeadline(provider, options.providerTimeout), Effect.tapError(logTooLarge))

    const measured = <A>(provider: string, effect: Effect.Effect<A, ProviderCallError>) =>
      report === undefined
        ? effect
        : Effect.gen(function* () {
            const started = yield* Clock.currentTimeMillis
            return yield* effect.pipe(
              Effect.onExit((exit) =>
                Effect.flatMap(Clock.currentTimeMillis, (now) => {
                  const error = Exit.findErrorOption(exit)
                  if (Exit.isFailure(exit) && Option.isNone(error)) return Effect.void
                  const reason = Option.isSome(error) ? error.value.reason : undefined
                  if (reason === "ProviderNotFound") return Effect.void
                  return report.mountEnded(provider, (now - started) / 1000, reason)
                })
              )
            )
          })

    const mount = Effect.fn("ProviderClient.mount")(
      function* (provider: string, request: MountRequest) {
        let reached = false
        const attempt = Effect.flatMap(
          call(
            provider,
            (client, signal) => client.mount(request, { signal }),
            () => void (reached = true)
          ),
          (response) => toMountResult(provider, response)
        )
        return yield* circuits.guard(provider, measured(provider, attempt), () => reached)
      },
      (effect, provider) => Effect.annotateLogs(effect, { provider })
    )

    if (options.healthCheck) {
      yield* makeHealthCheck(channels, healthResults, report).pipe(
        Effect.repeat(Schedule.spaced(options.healthCheckInterval)),
        Effect.forkScoped
      )
    }
    return ProviderClient.of({
      mount,
      health: Effect.sync(() => new Map(healthResults)),
      circuits: circuits.states
    })
  })

export class ProviderClient extends Context.Service<ProviderClient, ProviderClientShape>()("ProviderClient") {
  static readonly layer = (options: ProviderClientOptions): Layer.Layer<ProviderClient> =>
    Layer.effect(ProviderClient, makeLive(options))

  /** Providers answered from a table, plus `ProviderClientInMemory` to see the calls and change the answers. */
  static readonly layerInMemory = (
    table: Readonly<Record<string, InMemoryAnswer>>
  ): Layer.Layer<ProviderClient | ProviderClientInMemory> =>
    Layer.syncContext(() => {
      const state = makeInMemoryState(table)
      return Context.make(ProviderClient, state.client).pipe(Context.add(ProviderClientInMemory, state.control))
    })
}
