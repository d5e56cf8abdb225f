// ProviderClient: the driver's Mount calls to a provider over cached, self-healing channels, with the driver's own
// deadline, UNAVAILABLE-only retries (docs/contract.md#provider-deadline-and-retries), upstream's response checks
// (docs/upstream.md#mount-response-handling) and the optional Version health-check loop.
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { Client } from "nice-grpc"
import type { ProviderFile } from "../domain/ProviderFile.js"
import type { MountRequest, VersionResponse } from "../gen/provider/v1alpha1/service.js"
import {
  fromCallFailure,
  isMessageTooLarge,
  isUnavailable,
  MESSAGE_TOO_LARGE_HINT,
  invalidProviderName,
  missingObjectVersions,
  pathNotUtf8,
  type ProviderCallError,
  providerErrorCode,
  providerNotFound,
  providerTimeout,
  tooManyFiles
} from "./ProviderCallError.js"
import { makeProviderChannels, type ProviderChannels } from "./ProviderChannels.js"
import type { CheckedMountResponse, ProviderDefinition } from "./ProviderDefinition.js"
import { MAX_DETAILS_CHARS, printable } from "./ProviderText.js"
import { isValidProviderName } from "./providerSocket.js"

export { ProviderCallError } from "./ProviderCallError.js"

export interface ObjectVersion {
  readonly id: string
  readonly version: string
}

export interface MountResult {
  readonly objectVersions: ReadonlyArray<ObjectVersion>
  /** Empty when the provider wrote the files itself (legacy providers, docs/upstream.md#mount-response-handling). */
  readonly files: ReadonlyArray<ProviderFile>
}

/** The last health-check answer of one provider. */
export interface ProviderHealth {
  readonly healthy: boolean
  /** Epoch milliseconds (from Clock). */
  readonly checkedAt: number
  /** `runtimeName runtimeVersion (version)` when healthy, the failure otherwise. */
  readonly detail: string
}

export interface ProviderClientShape {
  readonly mount: (provider: string, request: MountRequest) => Effect.Effect<MountResult, ProviderCallError>
  /** Last health-check result per provider; empty unless `--provider-health-check` is on. */
  readonly health: Effect.Effect<ReadonlyMap<string, ProviderHealth>>
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
}

// A Kubernetes Secret holds at most 1 MiB, so bigger responses cannot be synced
// (docs/upstream.md#mount-response-handling).
const SECRET_SIZE_LIMIT = 1024 * 1024
// Upstream's health check gives each Version call 5 seconds.
const HEALTH_CHECK_TIMEOUT = Duration.seconds(5)

// Only UNAVAILABLE is retried (docs/contract.md#provider-deadline-and-retries), 3 attempts in all, backoff from the
// base delay (1 s) doubling up to 10 s, jittered so restarted providers are not hit by every pod at once.
const UNAVAILABLE_RETRIES = 2
const unavailableBackoff = (base: Duration.Input) =>
  Schedule.min([Schedule.exponential(base, 2), Schedule.spaced("10 seconds")]).pipe(Schedule.jittered)

type ProviderGrpcClient = Client<ProviderDefinition>

/** One attempt: a broken connection (UNAVAILABLE) drops the channel so the retry dials afresh. */
const callOnce = <A>(
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

const withDeadline =
  (provider: string, timeout: Duration.Input) =>
  <A>(effect: Effect.Effect<A, ProviderCallError>) =>
    Effect.timeoutOrElse(effect, {
      duration: timeout,
      orElse: () => Effect.fail(providerTimeout(provider, Duration.format(Duration.fromInputUnsafe(timeout))))
    })

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

// The Version strings are the provider's own words, logged on every health check.
const describeVersion = (v: VersionResponse) =>
  printable(`${v.runtimeName} ${v.runtimeVersion} (${v.version})`, MAX_DETAILS_CHARS)

const makeHealthCheck = (channels: ProviderChannels, results: Map<string, ProviderHealth>) => {
  const checkOne = (provider: string) =>
    callOnce(channels, provider, (client, signal) => client.version({ version: "v1alpha1" }, { signal })).pipe(
      withDeadline(provider, HEALTH_CHECK_TIMEOUT),
      Effect.exit,
      Effect.flatMap((exit) =>
        Effect.gen(function* () {
          const checkedAt = yield* Clock.currentTimeMillis
          const healthy = Exit.isSuccess(exit)
          const detail = Exit.isSuccess(exit)
            ? describeVersion(exit.value)
            : Option.match(Exit.findErrorOption(exit), { onNone: () => "health check died", onSome: (e) => e.message })
          results.set(provider, { healthy, checkedAt, detail })
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

const makeLive = (options: ProviderClientOptions) =>
  Effect.gen(function* () {
    const channels = yield* makeProviderChannels(options)
    const healthResults = new Map<string, ProviderHealth>()
    const retryPolicy = {
      schedule: unavailableBackoff(options.retryBaseDelay ?? "1 second"),
      times: UNAVAILABLE_RETRIES,
      while: isUnavailable
    }

    const call = <A>(provider: string, f: (client: ProviderGrpcClient, signal: AbortSignal) => Promise<A>) =>
      callOnce(channels, provider, f).pipe(
        Effect.retry(retryPolicy),
        withDeadline(provider, options.providerTimeout),
        Effect.tapError(logTooLarge)
      )

    const mount = Effect.fn("ProviderClient.mount")(
      function* (provider: string, request: MountRequest) {
        const response = yield* call(provider, (client, signal) => client.mount(request, { signal }))
        return yield* toMountResult(provider, response)
      },
      (effect, provider) => Effect.annotateLogs(effect, { provider })
    )

    if (options.healthCheck) {
      yield* makeHealthCheck(channels, healthResults).pipe(
        Effect.repeat(Schedule.spaced(options.healthCheckInterval)),
        Effect.forkScoped
      )
    }
    return ProviderClient.of({ mount, health: Effect.sync(() => new Map(healthResults)) })
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

/** A fixed result, a fixed failure, or a function of the request. */
export type InMemoryAnswer =
  | MountResult
  | ProviderCallError
  | ((request: MountRequest) => Effect.Effect<MountResult, ProviderCallError>)

export interface RecordedMount {
  readonly provider: string
  readonly request: MountRequest
}

/** The in-memory twin's control surface: `yield* ProviderClientInMemory` under `ProviderClient.layerInMemory`. */
export interface ProviderClientInMemoryShape {
  /** Every mount call so far, in order (also calls to unknown providers). */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedMount>>
  /** Sets (or replaces) how a provider answers from now on. */
  readonly set: (provider: string, answer: InMemoryAnswer) => Effect.Effect<void>
}

export class ProviderClientInMemory extends Context.Service<ProviderClientInMemory, ProviderClientInMemoryShape>()(
  "ProviderClientInMemory"
) {}

const answer = (entry: InMemoryAnswer, request: MountRequest) =>
  typeof entry === "function"
    ? entry(request)
    : "_tag" in entry && entry._tag === "ProviderCallError"
      ? Effect.fail(entry)
      : Effect.succeed(entry as MountResult)

const makeInMemoryState = (table: Readonly<Record<string, InMemoryAnswer>>) => {
  const answers = new Map(Object.entries(table))
  const recorded: Array<RecordedMount> = []
  const lookup = (provider: string) =>
    !isValidProviderName(provider)
      ? Effect.fail(invalidProviderName(provider))
      : answers.has(provider)
        ? Effect.succeed(answers.get(provider)!)
        : Effect.fail(providerNotFound(provider))
  const client = ProviderClient.of({
    mount: Effect.fn("ProviderClient.mount")(function* (provider: string, request: MountRequest) {
      recorded.push({ provider, request })
      return yield* answer(yield* lookup(provider), request)
    }),
    health: Effect.succeed(new Map())
  })
  const control = ProviderClientInMemory.of({
    requests: Effect.sync(() => [...recorded]),
    set: (provider, entry) => Effect.sync(() => void answers.set(provider, entry))
  })
  return { client, control }
}
