// The filesystem half of target confinement (domain/VolumeTarget.ts is the shape): no element of the path below the
// kubelet root may be a symlink, so a pod that controls a directory on the way cannot redirect a mount, a write, a
// delete or a secret-sync read to somewhere else. The kubelet root itself may be a symlink (some distributions move
// /var/lib/kubelet): it belongs to the node's operator, not to a pod.
import type { BigIntStats } from "node:fs"
import * as fs from "node:fs/promises"
import { pathsBelowRoot, type VolumeTarget } from "../domain/VolumeTarget.js"
import { errnoCode } from "../platform/errno.js"

export type Confinement =
  | { readonly _tag: "Confined" }
  /** A path element below the root is a symlink (or not a directory): never act on this target. */
  | { readonly _tag: "Refused"; readonly why: string }

const CONFINED: Confinement = { _tag: "Confined" }

/**
 * lstat of every element below the kubelet root, read outermost first. A missing element ends the walk (nothing
 * further can be a symlink yet: the caller creates the rest with mkdir, which does not follow one). The lstats are
 * made at once and their answers read in order, so the verdict and the error are the ones a walk one element at a
 * time would give. An lstat below a link looks a name up through it: a read of metadata, never acted on (it could
 * only hold a threadpool thread if the link led into a hung filesystem, and only a pod that can write below the kubelet
 * root, a hostPath pod, could put the link there).
 */
export const walkConfinement = async (target: VolumeTarget): Promise<Confinement> => {
  const elements = pathsBelowRoot(target)
  const stats = await Promise.allSettled(elements.map((element) => fs.lstat(element)))
  for (let i = 0; i < elements.length; i++) {
    const element = elements[i]!
    const answer = stats[i]!
    if (answer.status === "rejected") {
      if (errnoCode(answer.reason) === "ENOENT") return CONFINED
      throw answer.reason
    }
    if (answer.value.isSymbolicLink()) return { _tag: "Refused", why: `${element} is a symlink` }
    if (!answer.value.isDirectory()) return { _tag: "Refused", why: `${element} is not a directory` }
  }
  return CONFINED
}

/**
 * The answer of the walk for an existing target in one round of three concurrent calls: the target's realpath is
 * the root's realpath followed by the very elements of the target path only when no element below the root is a
 * symlink (a link that resolved to its own place would loop, and realpath fails on a loop), and the lstat of the
 * target says it is a directory. That lstat when all of it holds; undefined when anything fails or differs: the walk
 * then finds out why. Like the walk's lstats, the realpath may look names up through a link before it is refused.
 */
export const confinedAtOnce = async (target: VolumeTarget): Promise<BigIntStats | undefined> => {
  try {
    const [root, resolved, own] = await Promise.all([
      fs.realpath(target.kubeletRoot),
      fs.realpath(target.path),
      fs.lstat(target.path, { bigint: true })
    ])
    const below = target.path.slice(target.kubeletRoot.length)
    return own.isDirectory() && resolved === (root === "/" ? below : `${root}${below}`) ? own : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether `target` is confined. The hot case (a republish: every element exists, none is a link) takes one round of
 * concurrent calls; anything else (a missing element, a link, a file, an error) takes the lstat walk, whose verdict
 * and errors are the rule's.
 */
export const checkConfinement = async (target: VolumeTarget): Promise<Confinement> =>
  (await confinedAtOnce(target)) !== undefined ? CONFINED : walkConfinement(target)
