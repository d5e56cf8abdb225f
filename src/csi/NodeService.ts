// CSI Node: kubelet's entry points. Decodes each request at the edge, reports a refused one, hands the rest to
// the Publisher, and answers UNIMPLEMENTED for the RPCs this driver does not advertise.
import * as Effect from "effect/Effect"
import { NodeServiceCapability_RPC_Type, type NodeServiceImplementation } from "../gen/csi/v1/csi.js"
import { Publisher } from "../publish/Publisher.js"
import { PublishReport } from "../publish/PublishReport.js"
import { type InFlightHandlers, makeHandlerRunner } from "./HandlerRunner.js"
import { decodePublish, decodeUnpublish, KubeletRoot } from "./NodeRequests.js"
import { unimplemented } from "./toStatus.js"

interface NodeIdentity {
  readonly nodeId: string
}

export const makeNodeService = (
  node: NodeIdentity
): Effect.Effect<NodeServiceImplementation, never, Publisher | PublishReport | InFlightHandlers> =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    // A request refused here still counts as a failed call, and a publish warns its pod when the pod is named.
    const report = yield* PublishReport
    const run = yield* makeHandlerRunner
    const kubeletRoot = yield* KubeletRoot
    return {
      nodePublishVolume: (request, { signal }) => {
        const decoded = decodePublish(request, kubeletRoot).pipe(
          Effect.tapError((failure) => report.publishRejected(request.volumeContext, request.targetPath, failure))
        )
        return run("NodePublishVolume", Effect.flatMap(decoded, publisher.publish), signal).then(() => ({}))
      },
      nodeUnpublishVolume: (request, { signal }) => {
        const decoded = decodeUnpublish(request, kubeletRoot).pipe(Effect.tapError(() => report.unpublishFailed))
        return run("NodeUnpublishVolume", Effect.flatMap(decoded, publisher.unpublish), signal).then(() => ({}))
      },
      // VOLUME_MOUNT_GROUP only: kubelet then hands the pod's fsGroup to the publish (with the CSIDriver's
      // `fsGroupPolicy: File`) instead of chowning the volume itself. Inline ephemeral volumes are never staged, and
      // stats and expansion make no sense for a tmpfs of secrets.
      nodeGetCapabilities: async () => ({
        capabilities: [{ type: { $case: "rpc", value: { type: NodeServiceCapability_RPC_Type.VOLUME_MOUNT_GROUP } } }]
      }),
      nodeGetInfo: async () => ({ nodeId: node.nodeId }),
      nodeStageVolume: async () => {
        throw unimplemented("NodeStageVolume")
      },
      nodeUnstageVolume: async () => {
        throw unimplemented("NodeUnstageVolume")
      },
      nodeGetVolumeStats: async () => {
        throw unimplemented("NodeGetVolumeStats")
      },
      nodeExpandVolume: async () => {
        throw unimplemented("NodeExpandVolume")
      }
    }
  })
