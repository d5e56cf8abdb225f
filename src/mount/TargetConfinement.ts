// The filesystem half of target confinement (domain/VolumeTarget.ts is the shape): no element of the path below the
// kubelet root may be a symlink, so a pod that controls a directory on the way cannot redirect a mount, a write, a
// delete or a secret-sync read to somewhere else. The kubelet root itself may be a symlink (some distributions move
// /var/lib/kubelet): it belongs to the node's operator, not to a pod.
import * as fs from "node:fs/promises"
import { pathsBelowRoot, type VolumeTarget } from "../domain/VolumeTarget.js"
import { errnoCode } from "../platform/errno.js"

export type Confinement =
  | { readonly _tag: "Confined" }
  /** A path element below the root is a symlink (or not a directory): never act on this target. */
  | { readonly _tag: "Refused"; readonly why: string }

/**
 * lstat of every element below the kubelet root, outermost first. A missing element ends the walk (nothing
 * further can be a symlink yet: the caller creates the rest with mkdir, which does not follow one).
 */
export const checkConfinement = async (target: VolumeTarget): Promise<Confinement> => {
  for (const element of pathsBelowRoot(target)) {
    let stat: Awaited<ReturnType<typeof fs.lstat>>
    try {
      stat = await fs.lstat(element)
    } catch (cause) {
      if (errnoCode(cause) === "ENOENT") return { _tag: "Confined" }
      throw cause
    }
    if (stat.isSymbolicLink()) return { _tag: "Refused", why: `${element} is a symlink` }
    if (!stat.isDirectory()) return { _tag: "Refused", why: `${element} is not a directory` }
  }
  return { _tag: "Confined" }
}
