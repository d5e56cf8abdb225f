// The two kubelet requests the driver acts on, as the CSI edge hands them to the publish use case once every
// argument check has passed (csi/NodeRequests.ts). Secrets stay redacted from there on.
import type * as Redacted from "effect/Redacted"

/** A NodePublishVolume request that passed the argument checks. */
export interface PublishRequest {
  readonly volumeId: string
  readonly targetPath: string
  readonly readonly: boolean
  readonly volumeContext: Readonly<Record<string, string>>
  readonly secrets: Redacted.Redacted<Readonly<Record<string, string>>>
  readonly mountFlags: ReadonlyArray<string>
  /**
   * `volume_capability.mount.volume_mount_group` (the pod's fsGroup, sent when the CSIDriver has
   * `fsGroupPolicy: File`): the gid every file and directory of the volume gets; absent: root's, as upstream.
   */
  readonly mountGroup?: number
}

/** A NodeUnpublishVolume request that passed the argument checks. */
export interface UnpublishRequest {
  readonly volumeId: string
  readonly targetPath: string
}
