// Who may read a volume's files: with a mount group (the pod's fsGroup), every file and directory of a data dir gets
// that group, files' group bits mirror their owner bits without write and directories are group r-x; never group
// write, never setgid. Without one, files keep the provider's mode and the driver's own group, as upstream.

/** What a write is asked for beyond the payload. */
export interface WriteOptions {
  /** The gid every file and directory of the new version gets (`volume_mount_group`); absent: the driver's. */
  readonly group?: number
  /**
   * The tmpfs's `size=` in bytes (`--tmpfs-size-limit`): a new version is staged beside the current one, so it is
   * refused before staging when both would not fit. Absent or 0: no check.
   */
  readonly sizeLimit?: number
}

/** The ownership a data dir's entries must have. */
export interface Ownership {
  /** The group to chown to; undefined: leave the creator's group (no chown at all). */
  readonly chownGroup: number | undefined
  /** The group every entry is expected to have, to tell whether a version on disk still fits. */
  readonly gid: number
  readonly dirMode: number
  readonly fileMode: (mode: number) => number
}

const DIR_MODE = 0o755
const GROUP_DIR_MODE = 0o750

/** 0600 -> 0640, 0644 -> 0644, 0700 -> 0750, 0660 -> 0640: the group gets the owner's read and execute bits. */
export const groupFileMode = (mode: number): number => (mode & 0o707) | ((mode >> 3) & 0o050)

/** The driver's own group: what a file it creates gets when nothing is chowned. */
const ownGroup = (): number => process.getegid?.() ?? 0

export const ownershipFor = (options: WriteOptions = {}): Ownership =>
  options.group === undefined
    ? { chownGroup: undefined, gid: ownGroup(), dirMode: DIR_MODE, fileMode: (mode) => mode }
    : { chownGroup: options.group, gid: options.group, dirMode: GROUP_DIR_MODE, fileMode: groupFileMode }
