// `--endpoint unix://...`: the Publisher as kubelet reaches it, over a running driver's CSI socket (e.g. the one
// `npm start` runs in standalone mode). The same commands then exercise the whole driver: gRPC server, request
// checks, publish path; the driver's typed reason comes back as the leading word of the status message.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { ClientError, createChannel, createClient } from "nice-grpc"
import type { PublishRequest, UnpublishRequest } from "../domain/PublishRequest.js"
import { FailureReason } from "../domain/FailureReason.js"
import { NodeDefinition, VolumeCapability_AccessMode_Mode } from "../gen/csi/v1/csi.js"
import { channelAddress } from "../metrics/HealthChecks.js"
import { Publisher } from "../publish/Publisher.js"

export class CsiCallError extends Schema.TaggedError<CsiCallError>()("CsiCallError", {
  reason: FailureReason,
  message: Schema.String
}) {}

const reasons: ReadonlyArray<string> = FailureReason.literals

/** `Reason: message` from our driver keeps its reason; anything else (no driver there) is a mount failure. */
const fromCallFailure = (endpoint: string, cause: unknown): CsiCallError => {
  const details = cause instanceof ClientError ? cause.details : String(cause)
  const match = /^(\w+): (.*)$/s.exec(details)
  return match !== null && reasons.includes(match[1]!)
    ? new CsiCallError({ reason: match[1] as FailureReason, message: match[2]! })
    : new CsiCallError({ reason: "MountFailed", message: `CSI call to ${endpoint} failed: ${details}` })
}

/** unix://relative/path as the driver's --endpoint reads it (everything after `://`), as a channel address. */
const unixChannel = (endpoint: string) => channelAddress({ _tag: "unix", path: endpoint.replace(/^unix:\/\//, "") })

const publishMessage = (request: PublishRequest) => ({
  volumeId: request.volumeId,
  publishContext: {},
  stagingTargetPath: "",
  targetPath: request.targetPath,
  volumeCapability: {
    accessType: {
      $case: "mount" as const,
      value: { fsType: "", mountFlags: [...request.mountFlags], volumeMountGroup: "" }
    },
    accessMode: { mode: VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER }
  },
  readonly: request.readonly,
  secrets: { ...Redacted.value(request.secrets) },
  volumeContext: { ...request.volumeContext }
})

export const csiPublisherLayer = (endpoint: string): Layer.Layer<Publisher> =>
  Layer.effect(
    Publisher,
    Effect.gen(function* () {
      const channel = yield* Effect.acquireRelease(
        Effect.sync(() => createChannel(unixChannel(endpoint))),
        (opened) => Effect.sync(() => opened.close())
      )
      const node = createClient(NodeDefinition, channel)
      const call = <A>(run: (signal: AbortSignal) => Promise<A>) =>
        Effect.tryPromise({ try: run, catch: (cause) => fromCallFailure(endpoint, cause) }).pipe(Effect.asVoid)
      return Publisher.of({
        publish: (request) => call((signal) => node.nodePublishVolume(publishMessage(request), { signal })),
        unpublish: (request: UnpublishRequest) =>
          call((signal) =>
            node.nodeUnpublishVolume({ volumeId: request.volumeId, targetPath: request.targetPath }, { signal })
          )
      })
    })
  )
