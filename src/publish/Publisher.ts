// The publish/unpublish use case behind kubelet's NodePublishVolume and NodeUnpublishVolume, as one readable
// sequence of small steps (docs/upstream.md#publish-steps with docs/contract.md#deliberate-differences). This
// module owns the order of the steps; each step is a neighbour's layer or a file beside this one.
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { TypedFailure } from "../domain/FailureReason.js"
import type { PublishRequest, UnpublishRequest } from "../domain/PublishRequest.js"
import { podInfo, type PodInfo } from "../domain/VolumeContext.js"
import { PodStatuses } from "../k8s/PodStatuses.js"
import { SecretProviderClasses } from "../k8s/SecretProviderClasses.js"
import { Mounter, mountFailed, type MountState } from "../mount/Mounter.js"
import { TargetLocks } from "../mount/TargetLocks.js"
import { ProviderClient } from "../provider/ProviderClient.js"
import { AtomicWriter } from "../writer/AtomicWriter.js"
import { confinedNow, confineTarget, PublishError } from "./ConfinedTarget.js"
import { NodeCache } from "./NodeCache.js"
import { PublishedLayout } from "./PublishedLayout.js"
import { PublishReport, type PublishOutcome } from "./PublishReport.js"
import { RefreshTimes } from "./RefreshTimes.js"
import { RotationReport } from "./RotationReport.js"
import { decideRepublish, type RotationSettings } from "./RotationPolicy.js"
import { labelled, type LabelledFailure, type RefreshDeps, refreshSecrets } from "./SecretRefresh.js"
import { identityOf, isSettled, makeVerifiedTargets, type VerifiedTargets } from "./VerifiedTargets.js"

export interface PublishOptions {
  readonly nodeId: string
  /** kubelet's root dir (`--kubelet-root-dir`): the only tree whose volume paths this publisher acts on. */
  readonly kubeletRoot: string
  readonly enableSecretRotation: boolean
  readonly rotationPollInterval: Duration.Duration
  /** `--node-cache-max-bytes`; 64 MiB unless set. */
  readonly nodeCacheMaxBytes?: number
}

export interface PublisherShape {
  readonly publish: (request: PublishRequest) => Effect.Effect<void, TypedFailure>
  readonly unpublish: (request: UnpublishRequest) => Effect.Effect<void, TypedFailure>
}

interface Published {
  readonly outcome: PublishOutcome
  /** The metric label: the SPC's spec.provider, "" when the publish ended before reading it. */
  readonly provider: string
}

interface Steps extends RefreshDeps {
  readonly kubeletRoot: string
  readonly rotation: RotationSettings
  readonly layout: Context.Service.Shape<typeof PublishedLayout>
  readonly times: Context.Service.Shape<typeof RefreshTimes>
  readonly verified: VerifiedTargets
}

/** The secrets fetched and stored once more, the time of it recorded; succeeds with the provider label. */
const refresh = (
  steps: Steps,
  request: PublishRequest,
  pod: PodInfo,
  spcName: string,
  state: MountState,
  masked: boolean
) =>
  refreshSecrets(steps, request, pod, spcName, state, masked).pipe(
    Effect.tap(() => Effect.flatMap(Clock.currentTimeMillis, (now) => steps.times.record(request.targetPath, now)))
  )

type Prepared =
  | { readonly _tag: "Skipped"; readonly why: string }
  | { readonly _tag: "Fetch"; readonly state: MountState; readonly spcName: string; readonly masked: boolean }

/**
 * Confinement, mount state and the republish decision: whether to fetch, and how. A target whose directory is the
 * one the last full check passed on, unchanged (publish/VerifiedTargets.ts), skips the checks when the decision is a
 * no-op anyway: nothing is done through its path, and the round that proves it confined (realpaths of the root and
 * the target, lstat of the target) also proves it still leads to that very directory, unchanged.
 */
const prepare = (steps: Steps, request: PublishRequest): Effect.Effect<Prepared, TypedFailure> =>
  Effect.gen(function* () {
    const target = request.targetPath
    // One round: confined now, and the directory's identity before any check reads it.
    const confined = yield* confinedNow(steps.kubeletRoot, target)
    const identity = identityOf(confined)
    const lastRefresh = yield* steps.times.get(target)
    if (steps.verified.holds(target, identity)) {
      const known: MountState = { _tag: "Mounted", fsType: "tmpfs", modifiedMillis: identity!.modifiedMillis }
      const decision = decideRepublish(known, true, steps.rotation, lastRefresh, yield* Clock.currentTimeMillis)
      if (decision._tag === "NoOp") return { _tag: "Skipped", why: decision.why } as const
    }
    steps.verified.forget(target)
    if (confined === undefined) yield* confineTarget(steps.kubeletRoot, target, true)
    const state = yield* steps.mounter.mountState(target)
    const complete = state._tag === "Mounted" && state.fsType === "tmpfs" && (yield* steps.layout.isComplete(target))
    const now = yield* Clock.currentTimeMillis
    const decision = decideRepublish(state, complete, steps.rotation, lastRefresh, now)
    if (decision._tag === "NoOp") {
      // Identified before the checks: a change made while they ran shows as another identity next time.
      if (identity !== undefined && isSettled(identity, now)) steps.verified.remember(target, identity)
      return { _tag: "Skipped", why: decision.why } as const
    }
    if (decision._tag === "Foreign") {
      return yield* mountFailed(
        `target ${target} is a ${decision.fsType} mount, not this driver's tmpfs: refusing to write into it`
      )
    }
    const spcName = request.volumeContext["secretProviderClass"] ?? ""
    if (spcName === "")
      return yield* new PublishError({ reason: "InvalidRequest", message: "secretProviderClass is not set" })
    if (state._tag === "Missing") yield* steps.mounter.ensureDir(target)
    return { _tag: "Fetch", state, spcName, masked: decision._tag === "Refresh" } as const
  })

/** Everything a publish does under the target's lock. */
const publishLocked = (
  steps: Steps,
  request: PublishRequest,
  pod: PodInfo
): Effect.Effect<Published, LabelledFailure> =>
  Effect.gen(function* () {
    const prepared = yield* prepare(steps, request).pipe(Effect.mapError(labelled("")))
    if (prepared._tag === "Skipped") return { outcome: prepared, provider: "" }
    const { state, spcName, masked } = prepared
    if (!masked) {
      const provider = yield* refresh(steps, request, pod, spcName, state, false)
      return { outcome: { _tag: "Mounted" }, provider }
    }
    // A failed republish must not fail the volume: kubelet would tear down a working mount
    // (kubernetes/kubernetes#121271). The old files stay; PublishReport makes it loud.
    const started = yield* Clock.currentTimeMillis
    return yield* refresh(steps, request, pod, spcName, state, true).pipe(
      Effect.flatMap((provider) =>
        Effect.map(
          Clock.currentTimeMillis,
          (now): Published => ({ outcome: { _tag: "Refreshed", seconds: (now - started) / 1000 }, provider })
        )
      ),
      Effect.catch(({ failure, provider }) =>
        Effect.succeed<Published>({
          outcome: { _tag: "RefreshFailed", failure },
          provider
        })
      )
    )
  })

const elapsedMs = (startedNanos: bigint): Effect.Effect<number> =>
  Effect.map(Clock.currentTimeNanos, (now) => Number(now - startedNanos) / 1e6)

const make = (options: PublishOptions) =>
  Effect.gen(function* () {
    const locks = yield* TargetLocks
    const report = yield* PublishReport
    const steps: Steps = {
      nodeId: options.nodeId,
      kubeletRoot: options.kubeletRoot,
      rotation: {
        enabled: options.enableSecretRotation,
        pollIntervalMillis: Duration.toMillis(options.rotationPollInterval)
      },
      mounter: yield* Mounter,
      classes: yield* SecretProviderClasses,
      providers: yield* ProviderClient,
      writer: yield* AtomicWriter,
      statuses: yield* PodStatuses,
      layout: yield* PublishedLayout,
      times: yield* RefreshTimes,
      rotations: yield* RotationReport,
      cache: yield* NodeCache,
      report,
      rotationEnabled: options.enableSecretRotation,
      verified: makeVerifiedTargets()
    }
    // A class deleted from the cluster takes its node-cache entries with it.
    yield* steps.classes.onDeleted(steps.cache.dropClass)

    const publish = Effect.fn("Publisher.publish")(function* (request: PublishRequest) {
      const started = yield* Clock.currentTimeNanos
      const pod = podInfo(request.volumeContext)
      const { outcome, provider } = yield* locks.withLock(request.targetPath, publishLocked(steps, request, pod)).pipe(
        Effect.tapError(({ failure, provider }) => report.failed(pod, request.targetPath, provider, failure)),
        Effect.mapError(({ failure }) => failure)
      )
      yield* report.succeeded(pod, request.targetPath, provider, outcome)
      const spc = request.volumeContext["secretProviderClass"] ?? ""
      const durationMs = yield* elapsedMs(started)
      yield* report.publishLogged({ pod, spc, target: request.targetPath, provider, outcome, durationMs })
    })

    const unpublish = Effect.fn("Publisher.unpublish")(function* (request: UnpublishRequest) {
      const started = yield* Clock.currentTimeNanos
      const cleanup = confineTarget(options.kubeletRoot, request.targetPath).pipe(
        Effect.andThen(steps.mounter.cleanupMountPoint(request.targetPath)),
        Effect.andThen(steps.times.forget(request.targetPath)),
        Effect.andThen(Effect.sync(() => steps.verified.forget(request.targetPath)))
      )
      yield* locks.withLock(request.targetPath, cleanup).pipe(Effect.tapError(() => report.unpublishFailed))
      yield* report.unpublishSucceeded
      yield* report.unpublishLogged(request.targetPath, yield* elapsedMs(started))
    })

    return { publish, unpublish } satisfies PublisherShape
  })

export class Publisher extends Context.Service<Publisher, PublisherShape>()("Publisher") {
  /** The live use case on its neighbours' layers; its reports and refresh times come with it. */
  static readonly layer = (options: PublishOptions) =>
    Layer.effect(Publisher, make(options)).pipe(
      Layer.provide(Layer.mergeAll(PublishReport.layer, RefreshTimes.layer, RotationReport.layer)),
      Layer.provide(NodeCache.layer({ maxBytes: options.nodeCacheMaxBytes ?? 64 * 1024 * 1024 }))
    )
}
