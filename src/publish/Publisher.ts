// The publish/unpublish use case behind kubelet's NodePublishVolume and NodeUnpublishVolume.
// This module owns the order of steps; each step lives in its own layer.
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { PublishRequest, UnpublishRequest } from "../domain/PublishRequest.js"
import type { TypedFailure } from "../domain/FailureReason.js"

export interface PublisherShape {
  readonly publish: (request: PublishRequest) => Effect.Effect<void, TypedFailure>
  readonly unpublish: (request: UnpublishRequest) => Effect.Effect<void, TypedFailure>
  /** A publish refused at the edge (bad arguments) still counts as a failed publish and warns the pod, if named. */
  readonly publishRejected: (volumeContext: Readonly<Record<string, string>>, targetPath: string, failure: TypedFailure) => Effect.Effect<void>
  readonly unpublishRejected: (failure: TypedFailure) => Effect.Effect<void>
}

export class Publisher extends Context.Service<Publisher, PublisherShape>()("Publisher") {}
