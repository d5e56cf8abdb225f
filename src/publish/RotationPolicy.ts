// When a publish may skip the provider (pure). Upstream trusts any mount point, and its mtime even on an unmounted
// directory; here only this driver's tmpfs holding a complete `..data` layout counts as published, and with rotation
// on only when its last successful refresh is younger than the poll interval.
import type { MountState } from "../mount/Mounter.js"

type RepublishDecision =
  /** Nothing usable there: mount (unless a tmpfs is there already) and write. */
  | { readonly _tag: "FirstMount" }
  | { readonly _tag: "NoOp"; readonly why: string }
  | { readonly _tag: "Refresh" }
  /** A mount of another filesystem at the target: never written into, never trusted. */
  | { readonly _tag: "Foreign"; readonly fsType: string }

export interface RotationSettings {
  readonly enabled: boolean
  readonly pollIntervalMillis: number
}

/** `layoutComplete`: the target holds a complete layout the writer made (publish/PublishedLayout.ts). */
export const decideRepublish = (
  state: MountState,
  layoutComplete: boolean,
  settings: RotationSettings,
  lastRefreshMillis: number | undefined,
  nowMillis: number
): RepublishDecision => {
  if (state._tag !== "Mounted") return { _tag: "FirstMount" }
  if (state.fsType !== "tmpfs") return { _tag: "Foreign", fsType: state.fsType }
  // An empty or half-written tmpfs (a crash after the mount, a failed rollback, someone else's tmpfs) is not a
  // published volume: answering OK would start the pod with no files.
  if (!layoutComplete) return { _tag: "FirstMount" }
  if (!settings.enabled) return { _tag: "NoOp", why: "already mounted and rotation is disabled" }
  // After a driver restart only the target dir's mtime (moved by every atomic swap) remembers the last write, as
  // upstream's does; without it a rolling update would call every provider of the node at once.
  const last = lastRefreshMillis ?? state.modifiedMillis
  const fresh = last !== undefined && nowMillis - last < settings.pollIntervalMillis
  if (fresh) return { _tag: "NoOp", why: "refreshed within the rotation poll interval" }
  return { _tag: "Refresh" }
}
