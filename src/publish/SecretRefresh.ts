// One fetch of a volume's secrets: the SPC lookup and checks (docs/upstream.md#publish-spc-lookup,
// #publish-attributes-and-readonly, in upstream's order), the tmpfs on a first mount, the provider call, payload
// validation, the atomic write and the pod status. Each failure leaves labelled with the metric's provider label.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { TypedFailure } from "../domain/FailureReason.js"
import type { PublishRequest } from "../domain/PublishRequest.js"
import type { SecretProviderClass } from "../domain/SecretProviderClass.js"
import { serviceAccountTokens, type PodInfo } from "../domain/VolumeContext.js"
import type { PodStatusesShape } from "../k8s/PodStatuses.js"
import type { SecretProviderClassesShape } from "../k8s/SecretProviderClasses.js"
import type { MounterShape, MountState } from "../mount/Mounter.js"
import { encodeMountRequest } from "../provider/MountRequestEncoding.js"
import type { ProviderClientShape } from "../provider/ProviderClient.js"
import type { AtomicWriterShape } from "../writer/AtomicWriter.js"
import { checkFits, validatePayload } from "../writer/Payload.js"
import { PublishError } from "./ConfinedTarget.js"
import type { NodeCacheShape } from "./NodeCache.js"
import { type CacheScope, cacheScopeOf } from "./NodeCacheKey.js"
import type { PublishReportShape } from "./PublishReport.js"
import type { RotationReportShape } from "./RotationReport.js"

/** A publish failure with its metric label: the SPC's spec.provider once read, "" before (never a pod's choice). */
export interface LabelledFailure {
  readonly failure: TypedFailure
  readonly provider: string
}

export const labelled =
  (provider: string) =>
  (failure: TypedFailure): LabelledFailure => ({ failure, provider })

/** The neighbours a refresh uses. */
export interface RefreshDeps {
  readonly nodeId: string
  readonly mounter: MounterShape
  readonly classes: SecretProviderClassesShape
  readonly providers: ProviderClientShape
  readonly writer: AtomicWriterShape
  readonly statuses: PodStatusesShape
  readonly rotations: RotationReportShape
  /** The opt-in node cache, and where its coalesced and stale serves are reported. */
  readonly cache: NodeCacheShape
  readonly report: PublishReportShape
  readonly rotationEnabled: boolean
}

interface ClassUse {
  readonly provider: string
  readonly parameters: Readonly<Record<string, string>>
}

/** The SPC checks in upstream's order: provider, parameters, then the request's readonly flag. */
const checkClass = (spc: SecretProviderClass, ref: string, request: PublishRequest) => {
  if (!spc.spec?.provider) {
    return Effect.fail(
      new PublishError({ reason: "InvalidSecretProviderClass", message: `provider not set in ${ref}` })
    )
  }
  if (Object.keys(spc.spec.parameters ?? {}).length === 0) {
    return Effect.fail(
      new PublishError({ reason: "InvalidSecretProviderClass", message: `parameters not set in ${ref}` })
    )
  }
  if (!request.readonly) {
    return Effect.fail(new PublishError({ reason: "InvalidRequest", message: "Readonly is not true in request" }))
  }
  return Effect.succeed<ClassUse>({ provider: spc.spec.provider, parameters: spc.spec.parameters ?? {} })
}

/**
 * A republish must not fail the volume, even on a defect (kubelet treats INTERNAL as final): the defect is logged
 * in full and becomes an InternalError failure. Only an interruption goes through as it is.
 */
const maskDefects = <A>(effect: Effect.Effect<A, TypedFailure>): Effect.Effect<A, TypedFailure> =>
  effect.pipe(
    Effect.catchCause((cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
      const typed = Cause.findErrorOption(cause)
      if (Option.isSome(typed)) return Effect.fail(typed.value)
      return Effect.andThen(
        Effect.logError("republish failed with a defect", cause),
        Effect.fail<TypedFailure>({
          reason: "InternalError",
          message: "internal error while refreshing the volume; see the driver's log"
        })
      )
    })
  )

/** Mount (first time), provider call, validation, atomic write and pod status. */
const store = (
  deps: RefreshDeps,
  request: PublishRequest,
  pod: PodInfo,
  spcName: string,
  use: ClassUse,
  state: MountState,
  cache: { readonly scope: CacheScope | undefined; readonly first: boolean }
) => {
  // What a rollback of the mount could not do cleanly (a busy tmpfs, detached lazily) joins the failure's message.
  let rollbackTrouble: string | undefined
  return Effect.gen(function* () {
    const mounted = state._tag === "Mounted"
    if (!mounted) {
      yield* deps.mounter.mountTmpfsScoped(request.targetPath, {
        known: { _tag: "Directory" },
        onRollbackTrouble: (note) => void (rollbackTrouble = note)
      })
    }
    const mountRequest = encodeMountRequest({
      parameters: use.parameters,
      volumeContext: request.volumeContext,
      tokens: serviceAccountTokens(request),
      secrets: request.secrets,
      targetPath: request.targetPath
    })
    const fetchFresh = Effect.gen(function* () {
      const result = yield* deps.providers.mount(use.provider, mountRequest)
      return { payload: yield* validatePayload(result.files), objectVersions: result.objectVersions }
    })
    const served = yield* deps.cache.fetch(cache.scope, cache.first, fetchFresh)
    const { payload, objectVersions } = served.fetched
    // Written even when empty (a legacy provider that writes its own files): the `..data` layout is what marks
    // the volume as published, so a later republish may skip the provider.
    yield* checkFits(
      payload,
      deps.mounter.tmpfsSizeLimit,
      `volume ${request.volumeId} (SecretProviderClass ${pod.namespace}/${spcName})`
    )
    yield* deps.writer.write(request.targetPath, payload, {
      sizeLimit: deps.mounter.tmpfsSizeLimit,
      ...(request.mountGroup === undefined ? {} : { group: request.mountGroup })
    })
    const previous = yield* deps.statuses.upsert({
      podName: pod.name,
      podNamespace: pod.namespace,
      podUid: pod.uid,
      spcName,
      nodeId: deps.nodeId,
      targetPath: request.targetPath,
      objects: objectVersions,
      refresh: mounted
    })
    if (served._tag === "Stale" || served.coalesced) {
      yield* deps.report.cacheServed(pod, use.provider, {
        spc: `${pod.namespace}/${spcName}`,
        served,
        rotationEnabled: deps.rotationEnabled
      })
    }
    return { previous, current: objectVersions }
  }).pipe(
    Effect.scoped,
    Effect.mapError(
      (failure): TypedFailure =>
        rollbackTrouble === undefined
          ? failure
          : new PublishError({ reason: failure.reason, message: `${failure.message}; ${rollbackTrouble}` })
    )
  )
}

/**
 * Everything a (re)publish fetches and stores; succeeds with the provider label. `masked`: a republish, whose
 * defects are reported like failures.
 */
export const refreshSecrets = (
  deps: RefreshDeps,
  request: PublishRequest,
  pod: PodInfo,
  spcName: string,
  state: MountState,
  masked: boolean
): Effect.Effect<string, LabelledFailure> =>
  Effect.gen(function* () {
    const mask = <A>(effect: Effect.Effect<A, TypedFailure>) => (masked ? maskDefects(effect) : effect)
    const spc = yield* mask(deps.classes.get(pod.namespace, spcName)).pipe(Effect.mapError(labelled("")))
    const use = yield* checkClass(spc, `${pod.namespace}/${spcName}`, request).pipe(
      Effect.mapError(labelled(spc.spec?.provider ?? ""))
    )
    const scope = yield* cacheScopeOf(spc, use.provider, pod, request).pipe(Effect.mapError(labelled(use.provider)))
    const stored = yield* mask(store(deps, request, pod, spcName, use, state, { scope, first: !masked })).pipe(
      Effect.mapError(labelled(use.provider))
    )
    // A rotation is a republish that called the provider: it reports what changed, after the write succeeded.
    if (masked) yield* deps.rotations.rotated({ pod, spc, ...stored })
    return use.provider
  })
