// When a republish of an already-mounted target may skip the provider (SPEC.md §3.2). Pure.
// Upstream trusts the target dir's mtime even on an unmounted directory; we skip only a real
// tmpfs mount point whose last successful refresh is younger than the poll interval.
import type { MountState } from "../mount/Mounter.js"

export type RepublishDecision =
  | { readonly _tag: "FirstMount" }
  | { readonly _tag: "NoOp"; readonly why: string }
  | { readonly _tag: "Refresh" }

export interface RotationSettings {
  readonly enabled: boolean
  readonly pollIntervalMillis: number
}

export const decideRepublish = (
  state: MountState,
  settings: RotationSettings,
  lastRefreshMillis: number | undefined,
  nowMillis: number
): RepublishDecision => {
  if (state._tag !== "Mounted") return { _tag: "FirstMount" }
  if (!settings.enabled) return { _tag: "NoOp", why: "already mounted and rotation is disabled" }
  // After a driver restart only the target dir's mtime (moved by every atomic swap) remembers the last write, as
  // upstream's does; without it a rolling update would call every provider of the node at once.
  const last = lastRefreshMillis ?? state.modifiedMillis
  const fresh = last !== undefined && nowMillis - last < settings.pollIntervalMillis
  if (state.fsType === "tmpfs" && fresh) return { _tag: "NoOp", why: "refreshed within the rotation poll interval" }
  return { _tag: "Refresh" }
}
