// What a rotation tells the pod's owners: a Normal SecretRotated Event naming each changed object (ids and
// versions, never contents) and, when the SecretProviderClass opts in, a rolling restart of the pod's workload.
// A rotation that changed nothing says nothing. Nothing here waits: Events and restarts run in the background.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { PodStatusObject, SecretProviderClass } from "../domain/SecretProviderClass.js"
import type { PodInfo } from "../domain/VolumeContext.js"
import { Events } from "../k8s/Events.js"
import type { PreviousObjects } from "../k8s/PodStatuses.js"
import { restartedAtAnnotation, WorkloadRestart } from "../k8s/WorkloadRestart.js"
import { changedObjects, restartDigest, restartsOnRotation, rotationMessage } from "./RotationChanges.js"

export interface Rotation {
  readonly pod: PodInfo
  readonly spc: SecretProviderClass
  /**
   * The versions before this refresh, as the SecretProviderClassPodStatus held them: it is read by the refresh
   * anyway, it is what the cluster was told, and it outlives a driver restart (an in-memory copy would not).
   * Undefined when there was no status: nothing to compare with, so nothing is said.
   */
  readonly previous: PreviousObjects
  readonly current: ReadonlyArray<PodStatusObject>
}

export interface RotationReportShape {
  /** After a successful republish that called the provider; never fails, never waits. */
  readonly rotated: (rotation: Rotation) => Effect.Effect<void>
}

export const rotatedReason = "SecretRotated"

const make = Effect.gen(function* () {
  const events = yield* Events
  const restarts = yield* WorkloadRestart
  const rotated = Effect.fn("RotationReport.rotated")(function* ({ pod, spc, previous, current }: Rotation) {
    if (previous === undefined) return
    const changes = changedObjects(previous, current)
    if (changes.length === 0) return
    const ref = { namespace: spc.metadata.namespace, name: spc.metadata.name }
    const message = rotationMessage(ref, changes)
    yield* events.warning({ pod, reason: rotatedReason, message, type: "Normal" })
    const restart = restartsOnRotation(spc.metadata.annotations)
    const digest = restartDigest(ref, current)
    yield* Effect.logInfo("secrets rotated", {
      pod: `${pod.namespace}/${pod.name}`,
      message,
      ...(restart ? { [restartedAtAnnotation]: digest } : {})
    })
    if (restart) yield* restarts.restart({ pod, spc: `${ref.namespace}/${ref.name}`, digest })
  })
  return RotationReport.of({ rotated })
})

export class RotationReport extends Context.Service<RotationReport, RotationReportShape>()("RotationReport") {
  static readonly layer: Layer.Layer<RotationReport, never, Events | WorkloadRestart> = Layer.effect(
    RotationReport,
    make
  )
}
