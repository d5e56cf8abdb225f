// The live Publisher: kubelet's NodePublishVolume/NodeUnpublishVolume as one readable sequence of
// small steps (upstream §2.5–§2.8 with SPEC.md §3's fixes). Each step is a layer of its own.
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { PublishRequest, UnpublishRequest } from "../domain/PublishRequest.js"
import type { TypedFailure } from "../domain/FailureReason.js"
import type { SecretProviderClass } from "../domain/SecretProviderClass.js"
import { podInfo, serviceAccountTokens, type PodInfo } from "../domain/VolumeContext.js"
import { Events } from "../k8s/Events.js"
import { PodStatuses } from "../k8s/PodStatuses.js"
import { SecretProviderClasses } from "../k8s/SecretProviderClasses.js"
import { Metrics } from "../metrics/Metrics.js"
import { Mounter, mountFailed, type MountState } from "../mount/Mounter.js"
import { TargetLocks } from "../mount/TargetLocks.js"
import { encodeMountRequest } from "../provider/MountRequestEncoding.js"
import { ProviderClient } from "../provider/ProviderClient.js"
import { AtomicWriter } from "../writer/AtomicWriter.js"
import { validatePayload } from "../writer/Payload.js"
import { confineTarget, PublishError } from "./ConfinedTarget.js"
import { PublishedLayout } from "./PublishedLayout.js"
import { makePublishReport, type PublishOutcome } from "./PublishReport.js"
import { Publisher } from "./Publisher.js"
import { decideRepublish } from "./RotationPolicy.js"

export { PublishError } from "./ConfinedTarget.js"

export interface PublishOptions {
  readonly nodeId: string
  /** kubelet's root dir (`--kubelet-root-dir`): the only tree whose volume paths this publisher acts on. */
  readonly kubeletRoot: string
  readonly enableSecretRotation: boolean
  readonly rotationPollInterval: Duration.Duration
}

/** A failed refresh as an outcome: its typed failure, or a defect logged in full and reported as InternalError. */
const refreshFailed = (cause: Cause.Cause<TypedFailure>): Effect.Effect<PublishOutcome> => {
  const typed = Cause.findErrorOption(cause)
  if (Option.isSome(typed)) return Effect.succeed({ _tag: "RefreshFailed", failure: typed.value })
  return Effect.as(Effect.logError("republish failed with a defect", cause), {
    _tag: "RefreshFailed",
    failure: { reason: "InternalError", message: "internal error while refreshing the volume; see the driver's log" }
  })
}

/** SPC checks of upstream §2.5 steps 11–12 and 14, in upstream's order. */
const checkClass = (spc: SecretProviderClass, ref: string, request: PublishRequest, label: { provider: string }) => {
  if (spc.spec?.provider) label.provider = spc.spec.provider
  if (!spc.spec?.provider) {
    return Effect.fail(new PublishError({ reason: "InvalidSecretProviderClass", message: `provider not set in ${ref}` }))
  }
  if (Object.keys(spc.spec.parameters ?? {}).length === 0) {
    return Effect.fail(new PublishError({ reason: "InvalidSecretProviderClass", message: `parameters not set in ${ref}` }))
  }
  if (!request.readonly) {
    return Effect.fail(new PublishError({ reason: "InvalidRequest", message: "Readonly is not true in request" }))
  }
  return Effect.succeed({ provider: spc.spec.provider, parameters: spc.spec.parameters ?? {} })
}

const make = (options: PublishOptions) =>
  Effect.gen(function*() {
    const mounter = yield* Mounter
    const locks = yield* TargetLocks
    const classes = yield* SecretProviderClasses
    const providers = yield* ProviderClient
    const writer = yield* AtomicWriter
    const statuses = yield* PodStatuses
    const metrics = yield* Metrics
    const layout = yield* PublishedLayout
    const report = makePublishReport(metrics, yield* Events)
    const lastRefresh = new Map<string, number>()
    const rotation = { enabled: options.enableSecretRotation, pollIntervalMillis: Duration.toMillis(options.rotationPollInterval) }

    /** Provider call, validation, atomic write and pod status: everything a (re)publish fetches and stores. */
    const fetchAndWrite = (
      request: PublishRequest, pod: PodInfo, spcName: string, label: { provider: string }, state: MountState
    ) => {
      // What a rollback of the mount could not do cleanly (a busy tmpfs, detached lazily) joins the failure's message.
      let rollbackTrouble: string | undefined
      return Effect.gen(function*() {
        const ref = `${pod.namespace}/${spcName}`
        const spc = yield* classes.get(pod.namespace, spcName)
        const { provider, parameters } = yield* checkClass(spc, ref, request, label)
        const mounted = state._tag === "Mounted"
        if (!mounted) {
          yield* mounter.mountTmpfsScoped(request.targetPath, {
            known: { _tag: "Directory" },
            onRollbackTrouble: (note) => void (rollbackTrouble = note)
          })
        }
        const mountRequest = encodeMountRequest({
          parameters,
          volumeContext: request.volumeContext,
          tokens: serviceAccountTokens(request),
          secrets: request.secrets,
          targetPath: request.targetPath
        })
        const result = yield* providers.mount(provider, mountRequest)
        // Written even when empty (a legacy provider that writes its own files): the `..data` layout is what marks
        // the volume as published, so a later republish may skip the provider.
        const payload = yield* validatePayload(result.files)
        yield* writer.write(request.targetPath, payload)
        yield* statuses.upsert({
          podName: pod.name, podNamespace: pod.namespace, podUid: pod.uid, spcName, nodeId: options.nodeId,
          targetPath: request.targetPath, objects: result.objectVersions, refresh: mounted
        })
      }).pipe(
        Effect.scoped,
        Effect.mapError((failure): TypedFailure =>
          rollbackTrouble === undefined
            ? failure
            : new PublishError({ reason: failure.reason, message: `${failure.message}; ${rollbackTrouble}` })
        )
      )
    }

    /** Everything a publish does under the target's lock; `label` learns the provider as soon as it is known. */
    const publishLocked = (request: PublishRequest, pod: PodInfo, label: { provider: string }) =>
      Effect.gen(function*() {
        yield* confineTarget(options.kubeletRoot, request.targetPath)
        const state = yield* mounter.mountState(request.targetPath)
        const tmpfs = state._tag === "Mounted" && state.fsType === "tmpfs"
        const complete = tmpfs && (yield* layout.isComplete(request.targetPath))
        const now = yield* Clock.currentTimeMillis
        const decision = decideRepublish(state, complete, rotation, lastRefresh.get(request.targetPath), now)
        if (decision._tag === "NoOp") return { _tag: "Skipped", why: decision.why } satisfies PublishOutcome
        if (decision._tag === "Foreign") {
          return yield* mountFailed(
            `target ${request.targetPath} is a ${decision.fsType} mount, not this driver's tmpfs: refusing to write into it`
          )
        }
        const spcName = request.volumeContext["secretProviderClass"] ?? ""
        if (spcName === "") return yield* new PublishError({ reason: "InvalidRequest", message: "secretProviderClass is not set" })
        if (state._tag === "Missing") yield* mounter.ensureDir(request.targetPath)
        const started = yield* Clock.currentTimeMillis
        const refresh = fetchAndWrite(request, pod, spcName, label, state).pipe(
          Effect.andThen(Clock.currentTimeMillis),
          Effect.tap((now) => Effect.sync(() => lastRefresh.set(request.targetPath, now)))
        )
        if (decision._tag === "FirstMount") return yield* Effect.as(refresh, { _tag: "Mounted" } satisfies PublishOutcome)
        // A failed republish must not fail the volume: kubelet would tear down a working mount
        // (kubernetes/kubernetes#121271). The old files stay; PublishReport makes it loud.
        // Even a defect is masked here (kubelet treats INTERNAL as final); only an interruption goes through.
        return yield* refresh.pipe(
          Effect.map((now): PublishOutcome => ({ _tag: "Refreshed", seconds: (now - started) / 1000 })),
          Effect.catchCause((cause) => Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : refreshFailed(cause))
        )
      })

    const publish = Effect.fn("Publisher.publish")(function*(request: PublishRequest) {
      const pod = podInfo(request.volumeContext)
      // The label is the SPC's spec.provider once read, "" before: never a pod-chosen attribute (upstream's
      // `providerName`), which would make one metric series per value a pod cares to send.
      const label = { provider: "" }
      const outcome = yield* locks.withLock(request.targetPath, publishLocked(request, pod, label)).pipe(
        Effect.tapError((failure) => report.failed(pod, request.targetPath, label.provider, failure))
      )
      yield* report.succeeded(pod, request.targetPath, label.provider, outcome)
    })

    const unpublish = Effect.fn("Publisher.unpublish")(function*(request: UnpublishRequest) {
      const cleanup = confineTarget(options.kubeletRoot, request.targetPath).pipe(
        Effect.andThen(mounter.cleanupMountPoint(request.targetPath)),
        Effect.tap(() => Effect.sync(() => lastRefresh.delete(request.targetPath)))
      )
      yield* locks.withLock(request.targetPath, cleanup).pipe(Effect.tapError(() => metrics.unpublishFailed))
      yield* metrics.unpublishSucceeded
    })

    return Publisher.of({
      publish,
      unpublish,
      publishRejected: (context, target, failure) => report.failed(podInfo(context), target, "", failure),
      unpublishRejected: () => metrics.unpublishFailed
    })
  })

export const publisherLayer = (options: PublishOptions) => Layer.effect(Publisher, make(options))
