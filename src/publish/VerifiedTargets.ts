// The targets whose last full check (mount state and layout) found this driver's complete tmpfs, each with the
// identity its directory had when the check began: while the target's lstat shows the very same directory, unchanged
// (device, inode, mtime and ctime: every create, delete, rename or chmod in it moves them), a republish within the
// poll interval may answer without repeating the check. Confinement is never remembered: it is checked on every call.
import type { BigIntStats } from "node:fs"

/** What the lstat of a target directory says, for comparison with a later one. */
export interface TargetIdentity {
  readonly key: string
  /** The directory's mtime, which every atomic swap of `..data` moves (the restart fallback of the poll interval). */
  readonly modifiedMillis: number
  /** Its ctime, which moves with the mtime and on every chmod. */
  readonly changedMillis: number
}

/** Undefined for anything but a directory (never a link: an lstat does not follow one). */
export const identityOf = (stat: BigIntStats | undefined): TargetIdentity | undefined =>
  stat?.isDirectory() === true
    ? {
        key: `${stat.dev}:${stat.ino}:${stat.mtimeNs}:${stat.ctimeNs}`,
        modifiedMillis: Number(stat.mtimeMs),
        changedMillis: Number(stat.ctimeMs)
      }
    : undefined

/**
 * How old the directory's last change must be before its identity is remembered. Kernels without fine-grained
 * timestamps stamp a change with the clock tick (up to 10 ms), so a second change within the same tick would keep
 * the same mtime and ctime; a change made once this much time has passed gets a later stamp whatever the tick.
 */
export const SETTLED_MILLIS = 250

/** Whether an identity may be remembered at `nowMillis`: its last change is older than any timestamp tick. */
export const isSettled = (identity: TargetIdentity, nowMillis: number): boolean =>
  nowMillis - identity.changedMillis > SETTLED_MILLIS

export interface VerifiedTargets {
  /** Whether the target's last full check passed on a directory of this identity. */
  readonly holds: (target: string, identity: TargetIdentity | undefined) => boolean
  readonly remember: (target: string, identity: TargetIdentity) => void
  readonly forget: (target: string) => void
}

/** One map for the publisher; an entry per published target, dropped on unpublish and before every full check. */
export const makeVerifiedTargets = (): VerifiedTargets => {
  const verified = new Map<string, string>()
  return {
    holds: (target, identity) => identity !== undefined && verified.get(target) === identity.key,
    remember: (target, identity) => void verified.set(target, identity.key),
    forget: (target) => void verified.delete(target)
  }
}
