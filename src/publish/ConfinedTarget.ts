// The publisher's own failures, and target confinement as one step: a target is acted on only when it is kubelet's
// `<root>/pods/<uid>/volumes/kubernetes.io~csi/<name>/mount` (domain/VolumeTarget.ts) with no symlink below the
// kubelet root (mount/TargetConfinement.ts). Run under the target's lock, before any mkdir, mount, write or delete.
import type { BigIntStats } from "node:fs"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { FailureReason } from "../domain/FailureReason.js"
import { parseVolumeTarget, type VolumeTarget } from "../domain/VolumeTarget.js"
import { checkConfinement, confinedAtOnce, walkConfinement } from "../mount/TargetConfinement.js"
import { errnoCode } from "../platform/errno.js"

export class PublishError extends Schema.TaggedError<PublishError>()("PublishError", {
  reason: FailureReason,
  message: Schema.String
}) {}

const refused = (message: string) => new PublishError({ reason: "InvalidRequest", message })

/**
 * The target as a VolumeTarget once the path has kubelet's shape and no element below the root is a symlink. An
 * lstat that fails on the target itself (a stale mount there) is left for the Mounter, which knows what to do with it.
 */
export const confineTarget = (
  kubeletRoot: string,
  targetPath: string,
  /** `confinedNow` already failed on this path: go straight to the walk. */
  afterConfinedNow = false
): Effect.Effect<VolumeTarget, PublishError> =>
  Effect.gen(function* () {
    const target = parseVolumeTarget(kubeletRoot, targetPath)
    if (typeof target === "string") return yield* refused(target)
    const check = afterConfinedNow ? walkConfinement : checkConfinement
    const confinement = yield* Effect.tryPromise(() => check(target)).pipe(
      Effect.catch((error) => {
        const failedAt = (error.cause as { path?: unknown } | undefined)?.path
        const code = errnoCode(error.cause) ?? "error"
        return failedAt === target.path
          ? Effect.succeed({ _tag: "Confined" } as const)
          : Effect.fail(refused(`target path ${target.path}: cannot check ${String(failedAt ?? "a parent")}: ${code}`))
      })
    )
    if (confinement._tag === "Refused") {
      return yield* refused(
        `target path ${target.path} refused: ${confinement.why}; no symlink below the kubelet root is followed`
      )
    }
    return target
  })

/**
 * The target's own lstat when its path has kubelet's shape and one round of calls proves it confined (an existing
 * directory, no symlink below the root); undefined otherwise, and then only `confineTarget` tells why, or refuses.
 */
export const confinedNow = (kubeletRoot: string, targetPath: string): Effect.Effect<BigIntStats | undefined> => {
  const target = parseVolumeTarget(kubeletRoot, targetPath)
  return typeof target === "string" ? Effect.undefined : Effect.promise(() => confinedAtOnce(target))
}
