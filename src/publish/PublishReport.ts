// What a publish tells the operators: the metrics of docs/upstream.md#metrics and a Warning Event on the pod for
// every failure, masked republish failures included (docs/contract.md#typed-failure-reasons,
// #masked-republish-failure). Never a secret: failures carry only their reason and a message that names objects.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { kObj, logV, Verbosity } from "../config/Logging.js"
import type { TypedFailure } from "../domain/FailureReason.js"
import { podInfo, type PodInfo } from "../domain/VolumeContext.js"
import { Events, type EventsShape } from "../k8s/Events.js"
import { Metrics, type MetricsShape } from "../metrics/Metrics.js"
import type { Served } from "./NodeCache.js"

/** How a publish that reached kubelet as a success ended. */
export type PublishOutcome =
  | { readonly _tag: "Skipped"; readonly why: string }
  | { readonly _tag: "Mounted" }
  | { readonly _tag: "Refreshed"; readonly seconds: number }
  | { readonly _tag: "RefreshFailed"; readonly failure: TypedFailure }

/** What the one log line of a publish that reached kubelet as a success names. */
export interface PublishLine {
  readonly pod: PodInfo
  readonly spc: string
  readonly target: string
  readonly provider: string
  readonly outcome: PublishOutcome
  readonly durationMs: number
}

export interface PublishReportShape {
  /** `provider` is the metric label: the SPC's spec.provider once read, "" before. */
  readonly succeeded: (pod: PodInfo, target: string, provider: string, outcome: PublishOutcome) => Effect.Effect<void>
  readonly failed: (pod: PodInfo, target: string, provider: string, failure: TypedFailure) => Effect.Effect<void>
  /** A publish refused at the edge (bad arguments) still counts as a failed publish and warns the pod, if named. */
  readonly publishRejected: (
    volumeContext: Readonly<Record<string, string>>,
    target: string,
    failure: TypedFailure
  ) => Effect.Effect<void>
  readonly unpublishSucceeded: Effect.Effect<void>
  /** A failed unpublish, refused at the edge or not. */
  readonly unpublishFailed: Effect.Effect<void>
  /** The publish's one line: Info for a mount or a republish that called the provider, V(5) for a skip. */
  readonly publishLogged: (line: PublishLine) => Effect.Effect<void>
  /** The unpublish's one Info line. */
  readonly unpublishLogged: (target: string, durationMs: number) => Effect.Effect<void>
  /** A publish the node cache served: from another's in-flight call, or stale (a Warning Event `ServedStale`). */
  readonly cacheServed: (pod: PodInfo, provider: string, note: CacheNote) => Effect.Effect<void>
}

export interface CacheNote {
  /** `<namespace>/<name>` of the SecretProviderClass. */
  readonly spc: string
  readonly served: Served
  readonly rotationEnabled: boolean
}

/** The Event's words: the class, the payload's age, why, and whether anything will refresh it. */
export const servedStaleMessage = (spc: string, ageMillis: number, failure: TypedFailure, rotation: boolean) =>
  `SecretProviderClass ${spc}: the provider failed (${failure.reason}: ${failure.message}); served the node ` +
  `cache's copy fetched ${Math.round(ageMillis / 1000)}s ago` +
  (rotation ? "; the next republish refreshes it" : "; rotation is off: nothing will refresh it")

const cacheServedWith =
  (metrics: MetricsShape, events: EventsShape) =>
  (pod: PodInfo, provider: string, note: CacheNote): Effect.Effect<void> => {
    const { served } = note
    if (served._tag === "Fresh") return served.coalesced ? metrics.providerMountCoalesced(provider) : Effect.void
    const message = servedStaleMessage(note.spc, served.ageMillis, served.failure, note.rotationEnabled)
    return Effect.all(
      [
        metrics.providerStaleServed(provider),
        events.warning({ pod, reason: "ServedStale", message }),
        Effect.logWarning("publish served a stale payload from the node cache", {
          pod: `${pod.namespace}/${pod.name}`,
          spc: note.spc,
          ageSeconds: Math.round(served.ageMillis / 1000),
          reason: served.failure.reason
        })
      ],
      { discard: true }
    )
  }

const succeededWith =
  (metrics: MetricsShape, warn: (pod: PodInfo, failure: TypedFailure) => Effect.Effect<void>) =>
  (pod: PodInfo, target: string, provider: string, outcome: PublishOutcome): Effect.Effect<void> => {
    switch (outcome._tag) {
      case "Skipped":
        return Effect.andThen(
          metrics.publishSucceeded(provider),
          logV(SKIP_LOG_LEVEL, "publish skipped", { target, why: outcome.why })
        )
      case "Mounted":
        return metrics.publishSucceeded(provider)
      case "Refreshed":
        return Effect.andThen(metrics.publishSucceeded(provider), metrics.rotationSucceeded(provider, outcome.seconds))
      case "RefreshFailed":
        // kubelet sees success (kubernetes/kubernetes#121271); everything else sees the failure.
        return Effect.all(
          [
            metrics.publishFailed(provider, outcome.failure.reason),
            metrics.rotationFailed(provider, outcome.failure.reason),
            warn(pod, outcome.failure),
            Effect.logWarning("republish failed; keeping the previous files", {
              target,
              pod: kObj(pod),
              provider,
              reason: outcome.failure.reason,
              error: outcome.failure.message
            })
          ],
          { discard: true }
        )
    }
  }

// kubelet republishes every volume about once a minute: the no-op ones are routine detail.
const SKIP_LOG_LEVEL = 5

const OUTCOME_WORD = { Skipped: "skipped", Mounted: "mounted", Refreshed: "refreshed" } as const
// The pod's UID and volume name are in kubelet's target path: .../pods/<uid>/volumes/<plugin>/<volume>/mount.
const TARGET_PARTS = /\/pods\/([^/]+)\/volumes\/[^/]+\/([^/]+)\/mount\/?$/

/**
 * A mount, a refresh: one Info line; a skip: V(5); a masked failure already logged its warning. The location is
 * the caller's span (Publisher.publish), as for the warnings.
 */
const publishLogged = (line: PublishLine): Effect.Effect<void> => {
  const { outcome } = line
  if (outcome._tag === "RefreshFailed") return Effect.void
  const fields = () => ({
    pod: kObj(line.pod),
    spc: kObj({ namespace: line.pod.namespace, name: line.spc }),
    provider: line.provider,
    target: line.target,
    durationMs: Math.round(line.durationMs * 10) / 10,
    outcome: OUTCOME_WORD[outcome._tag]
  })
  // A skip is every no-op republish (kubelet's republish of every volume): below V(5) it builds nothing.
  if (outcome._tag === "Skipped") {
    return Effect.flatMap(Verbosity, (v) =>
      v < SKIP_LOG_LEVEL ? Effect.void : logV(SKIP_LOG_LEVEL, "NodePublishVolume", fields())
    )
  }
  return Effect.logInfo("NodePublishVolume", fields())
}

const unpublishLogged = (target: string, durationMs: number): Effect.Effect<void> => {
  const parts = TARGET_PARTS.exec(target)
  return Effect.logInfo("NodeUnpublishVolume", {
    podUID: parts?.[1] ?? "",
    volume: parts?.[2] ?? "",
    target,
    durationMs: Math.round(durationMs * 10) / 10,
    outcome: "unmounted"
  })
}

const makePublishReport = (metrics: MetricsShape, events: EventsShape): PublishReportShape => {
  const warn = (pod: PodInfo, failure: TypedFailure) =>
    events.warning({ pod, reason: failure.reason, message: failure.message })
  const failed = (pod: PodInfo, target: string, provider: string, failure: TypedFailure) =>
    Effect.all(
      [
        metrics.publishFailed(provider, failure.reason),
        warn(pod, failure),
        Effect.logWarning("publish failed", {
          target,
          pod: kObj(pod),
          provider,
          reason: failure.reason,
          error: failure.message
        })
      ],
      { discard: true }
    )
  return {
    succeeded: succeededWith(metrics, warn),
    failed,
    publishRejected: (volumeContext, target, failure) => failed(podInfo(volumeContext), target, "", failure),
    unpublishSucceeded: metrics.unpublishSucceeded,
    unpublishFailed: metrics.unpublishFailed,
    publishLogged,
    unpublishLogged,
    cacheServed: cacheServedWith(metrics, events)
  }
}

export class PublishReport extends Context.Service<PublishReport, PublishReportShape>()("PublishReport") {
  /** Reports to the process's Metrics and Events. */
  static readonly layer: Layer.Layer<PublishReport, never, Metrics | Events> = Layer.effect(
    PublishReport,
    Effect.gen(function* () {
      return makePublishReport(yield* Metrics, yield* Events)
    })
  )
}
