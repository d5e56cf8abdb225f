// A kubelet-side CSI client over a real unix socket, for tests.
import * as path from "node:path"
import { createChannel, createClient, type Channel } from "nice-grpc"
import {
  IdentityDefinition,
  NodeDefinition,
  VolumeCapability_AccessMode_Mode,
  type NodePublishVolumeRequest
} from "../../src/gen/csi/v1/csi.js"

export const connectCsi = (socketPath: string) => {
  const channel: Channel = createChannel(`unix://${path.resolve(socketPath)}`)
  return {
    identity: createClient(IdentityDefinition, channel),
    node: createClient(NodeDefinition, channel),
    close: () => channel.close()
  }
}

/** What kubelet sends for an inline volume (docs/upstream.md#publish-request), with overrides. */
export const publishRequest = (overrides: Partial<NodePublishVolumeRequest> = {}): NodePublishVolumeRequest => ({
  volumeId: "csi-0123456789abcdef",
  publishContext: {},
  stagingTargetPath: "",
  targetPath: "/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~csi/secrets/mount",
  volumeCapability: {
    accessType: { $case: "mount", value: { fsType: "", mountFlags: [], volumeMountGroup: "" } },
    accessMode: { mode: VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER }
  },
  readonly: true,
  secrets: {},
  volumeContext: {
    secretProviderClass: "my-spc",
    "csi.storage.k8s.io/pod.name": "pod-1",
    "csi.storage.k8s.io/pod.namespace": "default",
    "csi.storage.k8s.io/pod.uid": "uid-1",
    "csi.storage.k8s.io/serviceAccount.name": "default",
    "csi.storage.k8s.io/ephemeral": "true"
  },
  ...overrides
})
