// One SecretSync, synced: checks, its SecretProviderClass, tokens, the provider's Mount, the Secret's data, the hash,
// the server-side apply, then conditions and status. A failure leaves the existing Secret untouched and reaches the
// condition, a Warning Event on the SecretSync and the metrics, its typed reason leading; never a secret value.
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { group as spcGroup, stripNulls } from "../domain/SecretProviderClass.js"
import {
  reservedKey,
  type SecretSync,
  type SecretSyncStatus,
  serviceAccountTokenType,
  syncApiVersion,
  syncGroup,
  syncVersion
} from "../domain/SecretSync.js"
import type { EventsShape } from "../k8s/Events.js"
import type { KubeApiShape } from "../k8s/KubeApi.js"
import { isNotFound } from "../k8s/KubernetesError.js"
import type { ProviderClientShape } from "../provider/ProviderClient.js"
import { isValidProviderName } from "../provider/providerSocket.js"
import { type ApplyResult, applySecret, desiredSecret, type SecretBody } from "./SecretApply.js"
import { type ControllerPod, mountRequest, secretData } from "./SecretData.js"
import { nextConditions, sameConditions, type SyncOutcome } from "./Conditions.js"
import type { ControllerMetricsShape } from "./ControllerMetrics.js"
import { fromTyped, type SecretSyncFailure, syncFailure } from "./SyncFailure.js"
import type { makeSyncHasher } from "./SyncHash.js"
import { audiencesFor, type TokenAudiences } from "./TokenAudiences.js"
import type { TokenSource } from "./Tokens.js"

/** What the controller remembers of the last successful apply of one SecretSync's Secret. */
export interface Applied {
  readonly body: SecretBody
  readonly ssUid: string
  readonly secret: ApplyResult
}

export interface ReconcileDeps {
  readonly api: KubeApiShape
  readonly providers: ProviderClientShape
  readonly tokens: TokenSource
  readonly hasher: ReturnType<typeof makeSyncHasher>
  readonly audiences: TokenAudiences
  readonly pod: ControllerPod
  readonly events: EventsShape
  readonly metrics: ControllerMetricsShape
  /** Last successful applies, by SecretSync key; the reconcile updates it. */
  readonly applied: Map<string, Applied>
}

const SpcView = Schema.Struct({
  metadata: Schema.Struct({
    uid: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed(""))),
    generation: Schema.Number.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
  }),
  spec: Schema.Struct({
    provider: Schema.optionalKey(Schema.String),
    parameters: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
  }).pipe(Schema.withDecodingDefaultKey(Effect.succeed({})))
})
const decodeSpc = Schema.decodeUnknownEffect(SpcView)

export const statusPath = (namespace: string, name: string) =>
  `/apis/${syncGroup}/${syncVersion}/namespaces/${encodeURIComponent(namespace)}/secretsyncs/${encodeURIComponent(
    name
  )}/status`

const spcPath = (namespace: string, name: string) =>
  `/apis/${spcGroup}/v1/namespaces/${encodeURIComponent(namespace)}/secretproviderclasses/${encodeURIComponent(name)}`

const ref = (ss: SecretSync) => `secretsync ${ss.metadata.namespace}/${ss.metadata.name}`

/** The checks upstream makes before any call, plus the refused token type. */
const precheck = (ss: SecretSync): SecretSyncFailure | undefined => {
  const object = ss.spec.secretObject
  if (Object.keys(object.labels ?? {}).some((k) => k.startsWith(reservedKey))) {
    return syncFailure(
      "InvalidRequest",
      "InvalidClusterSecretLabelError",
      `${ref(ss)}: label ${reservedKey} is reserved for the controller`
    )
  }
  if (Object.keys(object.annotations ?? {}).some((k) => k.startsWith(reservedKey))) {
    return syncFailure(
      "InvalidRequest",
      "InvalidClusterSecretAnnotationError",
      `${ref(ss)}: annotation ${reservedKey} is reserved for the controller`
    )
  }
  if (object.type.trim() === serviceAccountTokenType) {
    return syncFailure(
      "InvalidRequest",
      "SecretTypeNotAllowed",
      `${ref(
        ss
      )}: type ${serviceAccountTokenType} is refused: the token controller would fill it with a long-lived token`
    )
  }
  return undefined
}

const getSpc = (api: KubeApiShape, ss: SecretSync) => {
  const { namespace } = ss.metadata
  const name = ss.spec.secretProviderClassName
  return api
    .request({
      method: "GET",
      path: spcPath(namespace, name),
      description: `get secretproviderclass ${namespace}/${name}`
    })
    .pipe(
      Effect.mapError((e) =>
        isNotFound(e)
          ? syncFailure(
              "SecretProviderClassNotFound",
              "SecretProviderClassMisconfigured",
              `secretproviderclass ${namespace}/${name} named by ${ref(ss)} not found`
            )
          : fromTyped("SecretProviderClassMisconfigured")(e)
      ),
      Effect.flatMap((body) =>
        decodeSpc(stripNulls(body)).pipe(
          Effect.mapError(() =>
            syncFailure(
              "InvalidSecretProviderClass",
              "SecretProviderClassMisconfigured",
              `secretproviderclass ${namespace}/${name} does not decode`
            )
          )
        )
      ),
      Effect.flatMap((spc) => {
        const provider = spc.spec.provider ?? ""
        if (provider === "" || !isValidProviderName(provider)) {
          return Effect.fail(
            syncFailure(
              "InvalidSecretProviderClass",
              "SecretProviderClassMisconfigured",
              `secretproviderclass ${namespace}/${name}: provider ${JSON.stringify(
                provider
              )} is empty or not a valid name`
            )
          )
        }
        return Effect.succeed({ ...spc, provider })
      })
    )
}

const timestamp = (millis: number) => new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z")

const writeStatus = (api: KubeApiShape, ss: SecretSync, status: SecretSyncStatus) =>
  api
    .request({
      method: "PATCH",
      path: statusPath(ss.metadata.namespace, ss.metadata.name),
      body: { status },
      contentType: "application/merge-patch+json",
      description: `update status of ${ref(ss)}`
    })
    .pipe(Effect.asVoid)

/** The new status, or undefined when it equals the current one (nothing is written then). */
const nextStatus = (ss: SecretSync, outcome: SyncOutcome, now: number, extra: Partial<SecretSyncStatus>) => {
  const conditions = nextConditions(ss.status.conditions, outcome, {
    now: timestamp(now),
    generation: ss.metadata.generation
  })
  const status: SecretSyncStatus = { ...ss.status, ...extra, conditions }
  const same =
    sameConditions(ss.status.conditions, conditions) &&
    status.syncHash === ss.status.syncHash &&
    status.lastSuccessfulSyncTime === ss.status.lastSuccessfulSyncTime
  return same ? undefined : status
}

export type ReconcileResult = { readonly ok: true } | { readonly ok: false; readonly failure: SecretSyncFailure }

/** Reasons a retry cannot fix: only an edit of the SecretSync or its SPC can, and both are watched. */
export const retryable = (failure: SecretSyncFailure): boolean =>
  !["InvalidRequest", "InvalidSecretProviderClass", "SecretProviderClassNotFound"].includes(failure.reason)

export const makeReconcile = (deps: ReconcileDeps) => {
  const { api, providers, metrics } = deps
  const key = (ss: SecretSync) => `${ss.metadata.namespace}/${ss.metadata.name}`

  const callProvider = (provider: string, ss: SecretSync, parameters: Readonly<Record<string, string>>) =>
    Effect.gen(function* () {
      const audiences = audiencesFor(deps.audiences, provider)
      const tokens = yield* deps.tokens.tokensFor(ss.metadata.namespace, ss.spec.serviceAccountName, audiences)
      const started = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(
        providers.mount(provider, mountRequest({ ss, parameters, pod: deps.pod, tokens }))
      )
      const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
      const reason = Option.getOrUndefined(Option.map(Exit.findErrorOption(exit), (e) => e.reason))
      yield* metrics.providerCall(provider, Exit.isFailure(exit) ? (reason ?? "InternalError") : undefined, seconds)
      return yield* Effect.mapError(exit, fromTyped("ProviderError"))
    })

  const sync = (ss: SecretSync, seen: { provider: string }) =>
    Effect.gen(function* () {
      const refused = precheck(ss)
      if (refused !== undefined) return yield* refused
      const spc = yield* getSpc(api, ss)
      seen.provider = spc.provider
      const mounted = yield* callProvider(spc.provider, ss, spc.spec.parameters ?? {})
      const data = secretData(ss, mounted.files)
      if (Result.isFailure(data)) return yield* data.failure
      const syncHash = yield* deps.hasher.hash(key(ss), {
        data: data.success,
        spcUid: spc.metadata.uid,
        spcGeneration: spc.metadata.generation,
        ssUid: ss.metadata.uid,
        ssGeneration: ss.metadata.generation,
        forceSynchronization: ss.spec.forceSynchronization ?? ""
      })
      const body = desiredSecret(ss, data.success)
      const previous = deps.applied.get(key(ss))
      const ours = previous !== undefined && previous.ssUid === ss.metadata.uid ? previous.secret.uid : undefined
      const secret = yield* applySecret(api, body, ours)
      deps.applied.set(key(ss), { body, ssUid: ss.metadata.uid, secret })
      const wrote = previous === undefined || previous.secret.resourceVersion !== secret.resourceVersion
      yield* metrics.secretApplied("sync", wrote)
      return { provider: spc.provider, syncHash, wrote }
    })

  return Effect.fn("SyncController.reconcile")(function* (ss: SecretSync) {
    const started = yield* Clock.currentTimeMillis
    const seen = { provider: "" }
    const exit = yield* Effect.exit(sync(ss, seen))
    const now = yield* Clock.currentTimeMillis
    const seconds = (now - started) / 1000
    if (exit._tag === "Success") {
      const { provider, syncHash, wrote } = exit.value
      const changed = syncHash !== ss.status.syncHash
      const extra = changed || wrote ? { syncHash, lastSuccessfulSyncTime: timestamp(now) } : { syncHash }
      const status = nextStatus(ss, { _tag: "Synced" }, now, extra)
      if (status !== undefined) {
        yield* writeStatus(api, ss, status).pipe(Effect.catch((e) => Effect.logWarning(e.message)))
      }
      yield* metrics.syncSucceeded(provider, seconds)
      if (changed || wrote) yield* Effect.logInfo(`synced secret ${key(ss)}`, { secretsync: key(ss), provider })
      return { ok: true } as ReconcileResult
    }
    const failure = failureOf(exit)
    if (Option.isNone(Exit.findErrorOption(exit))) {
      yield* Effect.logError(`sync of ${key(ss)} died`, Cause.pretty(exit.cause))
    }
    const status = nextStatus(
      ss,
      { _tag: "Failed", reason: failure.reason, condition: failure.condition, message: failure.message },
      now,
      {}
    )
    if (status !== undefined) {
      yield* writeStatus(api, ss, status).pipe(Effect.catch((e) => Effect.logWarning(e.message)))
    }
    yield* metrics.syncFailed(seen.provider, failure.reason, seconds)
    yield* Effect.logWarning(`sync of ${key(ss)} failed`, { reason: failure.reason, error: failure.message })
    yield* deps.events.warning({
      pod: { name: ss.metadata.name, namespace: ss.metadata.namespace, uid: ss.metadata.uid },
      reason: failure.condition,
      message: `${failure.reason}: ${failure.message}`,
      component: "secrets-store-sync-controller",
      involvedKind: { kind: "SecretSync", apiVersion: syncApiVersion }
    })
    return { ok: false, failure } as ReconcileResult
  })
}

const failureOf = (exit: Exit.Exit<unknown, SecretSyncFailure>): SecretSyncFailure =>
  Option.getOrElse(Exit.findErrorOption(exit), () =>
    syncFailure("InternalError", "ControllerSyncError", "internal error of the controller (see its log)")
  )
