// Decoding of kubelet's Node requests at the edge: the argument checks of upstream §2.5 steps
// 1–4 and §2.8 step 1, in upstream's order (the first failing check wins), into domain values.
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { NodePublishVolumeRequest, NodeUnpublishVolumeRequest } from "../gen/csi/v1/csi.js"

export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  reason: Schema.Literal("InvalidRequest"),
  message: Schema.String
}) {}

const invalid = (message: string) => new InvalidRequest({ reason: "InvalidRequest", message })

/**
 * The CSI spec requires an absolute target path; upstream never checks, so a relative or `..` path would be
 * created, mounted or (on unpublish) emptied wherever it lands. Kubelet never sends one: refusing is free.
 */
const badTargetPath = (target: string): InvalidRequest | undefined => {
  const trimmed = target.length > 1 ? target.replace(/\/+$/, "") : target
  if (!nodePath.isAbsolute(trimmed) || nodePath.posix.normalize(trimmed) !== trimmed || trimmed === "/") {
    return invalid(`Target path ${JSON.stringify(target)} is not an absolute, clean path`)
  }
  return undefined
}

/** A publish request that passed the argument checks. Secrets stay redacted from here on. */
export interface PublishRequest {
  readonly volumeId: string
  readonly targetPath: string
  readonly readonly: boolean
  readonly volumeContext: Readonly<Record<string, string>>
  readonly secrets: Redacted.Redacted<Readonly<Record<string, string>>>
  readonly mountFlags: ReadonlyArray<string>
}

export interface UnpublishRequest {
  readonly volumeId: string
  readonly targetPath: string
}

export const decodePublish = (req: NodePublishVolumeRequest): Effect.Effect<PublishRequest, InvalidRequest> => {
  if (req.volumeCapability === undefined) return Effect.fail(invalid("Volume capability missing in request"))
  if (req.volumeId === "") return Effect.fail(invalid("Volume ID missing in request"))
  if (req.targetPath === "") return Effect.fail(invalid("Target path missing in request"))
  const badPath = badTargetPath(req.targetPath)
  if (badPath !== undefined) return Effect.fail(badPath)
  if (Object.keys(req.volumeContext).length === 0) {
    return Effect.fail(invalid("Volume attributes missing in request"))
  }
  const access = req.volumeCapability.accessType
  return Effect.succeed({
    volumeId: req.volumeId,
    targetPath: req.targetPath,
    readonly: req.readonly,
    volumeContext: req.volumeContext,
    secrets: Redacted.make(req.secrets),
    mountFlags: access?.$case === "mount" ? access.value.mountFlags : []
  })
}

export const decodeUnpublish = (req: NodeUnpublishVolumeRequest): Effect.Effect<UnpublishRequest, InvalidRequest> => {
  if (req.volumeId === "") return Effect.fail(invalid("Volume ID missing in request"))
  if (req.targetPath === "") return Effect.fail(invalid("Target path missing in request"))
  const badPath = badTargetPath(req.targetPath)
  if (badPath !== undefined) return Effect.fail(badPath)
  return Effect.succeed({ volumeId: req.volumeId, targetPath: req.targetPath })
}
