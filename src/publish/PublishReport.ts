// What a publish tells the operators: the metrics of upstream §8 and a Warning Event on the pod
// for every failure, masked republish failures included (SPEC.md §3.3, §3.4). Never a secret:
// failures carry only their reason and a message that names objects.
import * as Effect from "effect/Effect"
import type { TypedFailure } from "../domain/FailureReason.js"
import type { PodInfo } from "../domain/VolumeContext.js"
import type { EventsShape } from "../k8s/Events.js"
import type { MetricsShape } from "../metrics/Metrics.js"

/** How a publish that reached kubelet as a success ended. */
export type PublishOutcome =
  | { readonly _tag: "Skipped"; readonly why: string }
  | { readonly _tag: "Mounted" }
  | { readonly _tag: "Refreshed"; readonly seconds: number }
  | { readonly _tag: "RefreshFailed"; readonly failure: TypedFailure }

export const makePublishReport = (metrics: MetricsShape, events: EventsShape) => {
  const warn = (pod: PodInfo, failure: TypedFailure) =>
    events.warning({ pod, reason: failure.reason, message: failure.message })

  const succeeded = (pod: PodInfo, target: string, provider: string, outcome: PublishOutcome) => {
    switch (outcome._tag) {
      case "Skipped":
        return Effect.andThen(metrics.publishSucceeded(provider), Effect.logDebug("publish skipped", { target, why: outcome.why }))
      case "Mounted":
        return metrics.publishSucceeded(provider)
      case "Refreshed":
        return Effect.andThen(metrics.publishSucceeded(provider), metrics.rotationSucceeded(provider, outcome.seconds))
      case "RefreshFailed":
        // kubelet sees success (kubernetes/kubernetes#121271); everything else sees the failure.
        return Effect.all([
          metrics.publishFailed(provider, outcome.failure.reason),
          metrics.rotationFailed(provider, outcome.failure.reason),
          warn(pod, outcome.failure),
          Effect.logWarning("republish failed; keeping the previous files", {
            target, pod: `${pod.namespace}/${pod.name}`, reason: outcome.failure.reason, error: outcome.failure.message
          })
        ], { discard: true })
    }
  }

  const failed = (pod: PodInfo, target: string, provider: string, failure: TypedFailure) =>
    Effect.all([
      metrics.publishFailed(provider, failure.reason),
      warn(pod, failure),
      Effect.logWarning("publish failed", { target, pod: `${pod.namespace}/${pod.name}`, reason: failure.reason, error: failure.message })
    ], { discard: true })

  return { succeeded, failed }
}
