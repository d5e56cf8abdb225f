// What the kernel says about mounts: a pure parser for /proc/self/mountinfo (proc(5)), paths with the kernel's
// octal escapes decoded, and the stat/statfs check that recognizes a tmpfs mount point without reading that file.
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import * as Option from "effect/Option"

export interface MountInfoEntry {
  readonly mountId: number
  readonly parentId: number
  readonly major: number
  readonly minor: number
  /** Root of the mount within its filesystem (e.g. "/" or a bind-mounted sub-path). */
  readonly root: string
  readonly mountPoint: string
  readonly mountOptions: string
  /** Optional fields such as `shared:1`, `master:2`, `unbindable`. */
  readonly optionalFields: ReadonlyArray<string>
  readonly fsType: string
  readonly source: string
  readonly superOptions: string
}

// The kernel escapes only space, tab, newline and backslash (as \040, \011, \012, \134), so a
// general three-octal-digit decode covers them and anything a future kernel adds.
const octalEscape = /\\([0-7]{3})/g

export const decodeMountInfoField = (field: string): string =>
  field.includes("\\") ? field.replace(octalEscape, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))) : field

/** The inverse of decodeMountInfoField, for the four characters the kernel escapes. */
export const encodeMountInfoField = (path: string): string =>
  path.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`)

const parseDevice = (field: string): readonly [number, number] | undefined => {
  const colon = field.indexOf(":")
  if (colon <= 0) return undefined
  const major = Number(field.slice(0, colon))
  const minor = Number(field.slice(colon + 1))
  return Number.isInteger(major) && Number.isInteger(minor) ? [major, minor] : undefined
}

/** Parses one line; undefined when the line is malformed (it is skipped, never fatal). */
export const parseMountInfoLine = (line: string): MountInfoEntry | undefined => {
  const fields = line.trim().split(" ")
  // The optional fields are variable in number and end at a lone "-" separator.
  const separator = fields.indexOf("-", 6)
  if (fields.length < 10 || separator < 0 || fields.length < separator + 3) return undefined
  const mountId = Number(fields[0])
  const parentId = Number(fields[1])
  const device = parseDevice(fields[2]!)
  if (!Number.isInteger(mountId) || !Number.isInteger(parentId) || device === undefined) return undefined
  return {
    mountId,
    parentId,
    major: device[0],
    minor: device[1],
    root: decodeMountInfoField(fields[3]!),
    mountPoint: decodeMountInfoField(fields[4]!),
    mountOptions: fields[5]!,
    optionalFields: fields.slice(6, separator),
    fsType: fields[separator + 1]!,
    source: decodeMountInfoField(fields[separator + 2]!),
    superOptions: fields[separator + 3] ?? ""
  }
}

export const parseMountInfo = (text: string): ReadonlyArray<MountInfoEntry> => {
  const entries: Array<MountInfoEntry> = []
  for (const line of text.split("\n")) {
    if (line.length === 0) continue
    const entry = parseMountInfoLine(line)
    if (entry !== undefined) entries.push(entry)
  }
  return entries
}

/**
 * The mount at exactly `mountPoint` (an absolute, already-resolved path). When mounts are stacked on
 * the same point the LAST one listed is the visible one, so that entry wins.
 */
export const findMount = (
  entries: ReadonlyArray<MountInfoEntry>,
  mountPoint: string
): Option.Option<MountInfoEntry> => {
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i]!
    if (entry.mountPoint === mountPoint) return Option.some(entry)
  }
  return Option.none()
}

/**
 * Cheap lookup straight from the text: only lines whose encoded mount point matches are parsed.
 * This is what runs on every publish, with up to ~1000 mounts on a node.
 */
export const findMountInText = (text: string, mountPoint: string): Option.Option<MountInfoEntry> => {
  const needle = ` ${encodeMountInfoField(mountPoint)} `
  let found: MountInfoEntry | undefined
  let from = 0
  for (let at = text.indexOf(needle, from); at >= 0; at = text.indexOf(needle, from)) {
    const start = text.lastIndexOf("\n", at) + 1
    const end = text.indexOf("\n", at)
    const line = text.slice(start, end < 0 ? text.length : end)
    const entry = parseMountInfoLine(line)
    if (entry !== undefined && entry.mountPoint === mountPoint) found = entry
    from = end < 0 ? text.length : end
  }
  return found === undefined ? Option.none() : Option.some(found)
}

// statfs(2) f_type of tmpfs (linux/magic.h): naming the filesystem without reading the mount table.
const TMPFS_MAGIC = 0x01021994

/**
 * A directory on another device than its parent, whose filesystem is tmpfs, is one of our mounts: three cheap
 * syscalls answer the hot case (every republish of a mounted volume) without reading /proc/self/mountinfo, whose
 * size grows with every volume on the node. Anything else (first publish, bind mounts, other filesystems) asks
 * the mount table, which is exact.
 */
export const tmpfsMountCheck = async (resolved: string) => {
  // One round: the statfs goes along with the stats (it answers for whatever filesystem holds the path).
  const [self, parent, statfs] = await Promise.all([
    fs.stat(resolved),
    fs.stat(nodePath.dirname(resolved)),
    fs.statfs(resolved)
  ])
  const mounted = self.dev !== parent.dev || self.ino === parent.ino
  const tmpfs = mounted && statfs.type === TMPFS_MAGIC
  return { tmpfs, modifiedMillis: self.mtimeMs }
}

/**
 * The device number of the tmpfs mounted at exactly `path`, or undefined when `path` is not the root of a tmpfs
 * mount, is missing or unreadable, or is itself a symlink: a link is never followed, so a directory a pod controls
 * cannot make a link to another pod's volume pass for a mount point. (Elements above `path` are the caller's to
 * confine.) The device lets a reader check later that what it read came from this very filesystem.
 */
export const tmpfsMountDevice = async (path: string): Promise<number | undefined> => {
  try {
    const own = await fs.lstat(path)
    if (!own.isDirectory()) return undefined
    return (await tmpfsMountCheck(path)).tmpfs ? own.dev : undefined
  } catch {
    return undefined
  }
}
