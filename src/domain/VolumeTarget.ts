// Where kubelet puts a CSI volume: `<kubelet root>/pods/<pod uid>/volumes/kubernetes.io~csi/<volume name>/mount`.
// The driver acts on no other path (a target elsewhere is refused), and secret sync reads no other path. Pure:
// the filesystem half of the rule (no symlink on the way) is mount/TargetConfinement.ts.
import * as nodePath from "node:path"

/** A target path that has kubelet's shape below the kubelet root. */
export interface VolumeTarget {
  /** The kubelet root the path lies under, as configured (`--kubelet-root-dir`). */
  readonly kubeletRoot: string
  readonly podUid: string
  readonly volumeName: string
  /** The clean absolute target path itself. */
  readonly path: string
}

/** The path elements below the kubelet root, in order; `undefined` stands for the two variable ones. */
const SHAPE = ["pods", undefined, "volumes", "kubernetes.io~csi", undefined, "mount"] as const

/** One path element kubelet could have made: not empty, not `.` or `..`, no NUL. */
const isElement = (name: string): boolean => name !== "" && name !== "." && name !== ".." && !name.includes("\0")

/** Absolute and in clean form (no `.`/`..` elements, no doubled or trailing slash), and not `/`. */
const isCleanAbsolute = (path: string): boolean =>
  path.startsWith("/") && path !== "/" && nodePath.posix.normalize(path) === path && !path.endsWith("/")

/**
 * `target` read as a kubelet CSI volume path under `kubeletRoot`, or why it is not one. Both must be clean absolute
 * paths; a trailing slash on the target is tolerated (kubelet never sends one, but the CSI spec does not forbid it).
 */
export const parseVolumeTarget = (kubeletRoot: string, target: string): VolumeTarget | string => {
  const path = target.length > 1 ? target.replace(/\/+$/, "") : target
  if (!isCleanAbsolute(path)) return `target path ${JSON.stringify(target)} is not an absolute, clean path`
  const root = kubeletRoot.length > 1 ? kubeletRoot.replace(/\/+$/, "") : kubeletRoot
  const outside =
    `target path ${JSON.stringify(target)} is not <kubelet root>/pods/<uid>/volumes/kubernetes.io~csi/<name>/mount` +
    ` under the kubelet root ${root}`
  if (!path.startsWith(`${root}/`)) return outside
  const elements = path.slice(root.length + 1).split("/")
  if (elements.length !== SHAPE.length) return outside
  for (let i = 0; i < SHAPE.length; i++) {
    const expected = SHAPE[i]
    const element = elements[i]!
    if (expected === undefined ? !isElement(element) : element !== expected) return outside
  }
  return { kubeletRoot: root, podUid: elements[1]!, volumeName: elements[4]!, path }
}

/** The target path of volume `volumeName` of pod `podUid`: the inverse of parseVolumeTarget. */
export const volumeTargetPath = (kubeletRoot: string, podUid: string, volumeName: string): string =>
  nodePath.posix.join(kubeletRoot, "pods", podUid, "volumes", "kubernetes.io~csi", volumeName, "mount")

/** Every directory from the kubelet root (exclusive) down to the target (inclusive): what must not be a symlink. */
export const pathsBelowRoot = (target: VolumeTarget): ReadonlyArray<string> => {
  const elements = target.path.slice(target.kubeletRoot.length + 1).split("/")
  return elements.map((_, i) => `${target.kubeletRoot}/${elements.slice(0, i + 1).join("/")}`)
}
