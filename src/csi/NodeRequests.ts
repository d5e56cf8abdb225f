// Decoding of kubelet's Node requests at the edge: upstream's argument checks
// (docs/upstream.md#publish-argument-checks, #unpublish), in upstream's order (the first failing check wins), into
// domain values.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { PublishRequest, UnpublishRequest } from "../domain/PublishRequest.js"
import { parseVolumeTarget } from "../domain/VolumeTarget.js"
import type { NodePublishVolumeRequest, NodeUnpublishVolumeRequest } from "../gen/csi/v1/csi.js"

/** kubelet's root dir (`--kubelet-root-dir`, provided by Driver.ts): target paths must lie in its pods tree. */
export const KubeletRoot = Context.Reference<string>("KubeletRoot", { defaultValue: () => "/var/lib/kubelet" })

export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  reason: Schema.Literal("InvalidRequest"),
  message: Schema.String
}) {}

const invalid = (message: string) => new InvalidRequest({ reason: "InvalidRequest", message })

/**
 * The driver acts only on kubelet's `<root>/pods/<uid>/volumes/kubernetes.io~csi/<name>/mount`: anything else (a
 * relative or `..` path, a directory elsewhere on the node) would be created, mounted or, on unpublish, removed
 * wherever it lands. Upstream never checks; kubelet never sends another path, so refusing is free.
 */
const badTargetPath = (kubeletRoot: string, target: string): InvalidRequest | undefined => {
  const parsed = parseVolumeTarget(kubeletRoot, target)
  return typeof parsed === "string" ? invalid(parsed) : undefined
}

/** The largest gid: 4294967295 is (gid_t)-1, which chown(2) reads as "leave the group unchanged". */
const MAX_GID = 4_294_967_294

/**
 * `volume_mount_group` as a gid: plain decimal digits without sign, spaces or leading zeros, 0..MAX_GID; ""
 * (the proto's default) is no group. Anything else is refused rather than guessed at.
 */
export const parseMountGroup = (text: string): number | undefined | "invalid" => {
  if (text === "") return undefined
  if (!/^(?:0|[1-9][0-9]{0,9})$/.test(text)) return "invalid"
  const gid = Number(text)
  return gid <= MAX_GID ? gid : "invalid"
}

export const decodePublish = (
  req: NodePublishVolumeRequest,
  kubeletRoot: string
): Effect.Effect<PublishRequest, InvalidRequest> => {
  if (req.volumeCapability === undefined) return Effect.fail(invalid("Volume capability missing in request"))
  if (req.volumeId === "") return Effect.fail(invalid("Volume ID missing in request"))
  if (req.targetPath === "") return Effect.fail(invalid("Target path missing in request"))
  const badPath = badTargetPath(kubeletRoot, req.targetPath)
  if (badPath !== undefined) return Effect.fail(badPath)
  if (Object.keys(req.volumeContext).length === 0) {
    return Effect.fail(invalid("Volume attributes missing in request"))
  }
  const access = req.volumeCapability.accessType
  const rawGroup = access?.$case === "mount" ? access.value.volumeMountGroup : ""
  const group = parseMountGroup(rawGroup)
  if (group === "invalid") {
    const shown = rawGroup.length <= 32 ? JSON.stringify(rawGroup) : `${JSON.stringify(rawGroup.slice(0, 32))}…`
    return Effect.fail(
      invalid(
        `volume_mount_group ${shown} of volume ${req.volumeId} is not a group ID ` +
          `(a decimal number from 0 to ${MAX_GID})`
      )
    )
  }
  return Effect.succeed({
    volumeId: req.volumeId,
    targetPath: req.targetPath,
    readonly: req.readonly,
    volumeContext: req.volumeContext,
    secrets: Redacted.make(req.secrets),
    mountFlags: access?.$case === "mount" ? access.value.mountFlags : [],
    ...(group === undefined ? {} : { mountGroup: group })
  })
}

export const decodeUnpublish = (
  req: NodeUnpublishVolumeRequest,
  kubeletRoot: string
): Effect.Effect<UnpublishRequest, InvalidRequest> => {
  if (req.volumeId === "") return Effect.fail(invalid("Volume ID missing in request"))
  if (req.targetPath === "") return Effect.fail(invalid("Target path missing in request"))
  const badPath = badTargetPath(kubeletRoot, req.targetPath)
  if (badPath !== undefined) return Effect.fail(badPath)
  return Effect.succeed({ volumeId: req.volumeId, targetPath: req.targetPath })
}
