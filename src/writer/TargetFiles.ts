// A target directory's layout (docs/upstream.md#atomic-writer-layout) and reading it back: the writer's names, the
// listing of a data dir, the one error of reads and writes, and `readTarget` (docs/upstream.md#reading-mounted-files),
// which reads the visible files through one resolution of `..data`, so a reader never mixes versions.
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { errnoCode } from "../platform/errno.js"

/** The symlink readers follow; swapped atomically by renaming `..data_tmp` over it. */
export const DATA_LINK = "..data"
export const DATA_LINK_TMP = "..data_tmp"

const DATA_DIR_PATTERN = /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.[0-9A-Za-z]+$/

const pad = (n: number, width = 2): string => String(n).padStart(width, "0")

/** `..YYYY_MM_DD_HH_MM_SS.<suffix>` in UTC, like Go's `..2006_01_02_15_04_05.` plus MkdirTemp's suffix. */
export const dataDirName = (epochMillis: number, suffix: string): string => {
  const d = new Date(epochMillis)
  const stamp =
    `${pad(d.getUTCFullYear(), 4)}_${pad(d.getUTCMonth() + 1)}_${pad(d.getUTCDate())}` +
    `_${pad(d.getUTCHours())}_${pad(d.getUTCMinutes())}_${pad(d.getUTCSeconds())}`
  return `..${stamp}.${suffix}`
}

/** Whether a directory entry is a timestamped data directory this layout owns. */
export const isDataDirName = (name: string): boolean => DATA_DIR_PATTERN.test(name)

/** The link target of the user-visible top-level entry `name`. */
export const visibleLinkTarget = (name: string): string => `${DATA_LINK}/${name}`

/** Why a target's files could not be read or written; `path` is relative to the target when inside it. */
export class TargetFilesError extends Schema.TaggedError<TargetFilesError>()("TargetFilesError", {
  reason: Schema.Literal("FileWriteError"),
  message: Schema.String,
  target: Schema.String,
  path: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** The path a Node fs error names, relative to the target when inside it. */
const failedPath = (target: string, fallback: string, cause: unknown): string => {
  const p = typeof cause === "object" && cause !== null && "path" in cause ? cause.path : undefined
  if (typeof p !== "string") return fallback
  if (p === target) return "."
  return p.startsWith(`${target}/`) ? p.slice(target.length + 1) : p
}

const readFailure = (target: string, rel: string, cause: unknown): TargetFilesError => {
  const where = failedPath(target, rel, cause)
  return new TargetFilesError({
    reason: "FileWriteError",
    target,
    path: where,
    message: `cannot read ${JSON.stringify(where)} in target ${target}: ${errnoCode(cause) ?? "unexpected error"}`,
    cause
  })
}

const attempt = <A>(target: string, rel: string, run: () => Promise<A>): Effect.Effect<A, TargetFilesError> =>
  Effect.tryPromise({ try: run, catch: (cause) => readFailure(target, rel, cause) })

/**
 * `..data`'s current data directory name, or undefined when absent or not one of ours: the link must name a
 * timestamped entry that is a real directory, so a link planted under a data dir's name is never walked into.
 */
export const currentDataDir = (target: string): Effect.Effect<string | undefined, TargetFilesError> =>
  attempt(target, DATA_LINK, async () => {
    try {
      const link = await fs.readlink(path.join(target, DATA_LINK))
      if (!isDataDirName(link)) return undefined
      return (await fs.lstat(path.join(target, link))).isDirectory() ? link : undefined
    } catch (cause) {
      const code = errnoCode(cause)
      if (code === "ENOENT" || code === "EINVAL") return undefined
      throw cause
    }
  })

/** Size, permission bits and group of a regular file (or, without size, a directory) inside a data directory. */
export interface FileStat {
  readonly size: number
  readonly mode: number
  readonly gid: number
}

/** A data directory as it is on disk, read without following any link. */
export interface DataDirListing {
  /** Every regular file, keyed by relative path. */
  readonly files: ReadonlyMap<string, FileStat>
  /** Every directory below the root, keyed by relative path; "" is the data directory itself. */
  readonly dirs: ReadonlyMap<string, FileStat>
  /** Everything else (symlinks, sockets, fifos, devices): never the writer's, never followed. */
  readonly others: ReadonlyArray<string>
}

const statOf = (st: { size: number; mode: number; gid: number }): FileStat => ({
  size: st.size,
  mode: st.mode & 0o7777,
  gid: st.gid
})

/** The entries under `dir`; an absent `dir` is empty. Symlinks are listed in `others`, never followed. */
export const listFiles = (target: string, dir: string): Effect.Effect<DataDirListing, TargetFilesError> =>
  attempt(target, path.relative(target, dir), async () => {
    const files = new Map<string, FileStat>()
    const dirs = new Map<string, FileStat>()
    const others: Array<string> = []
    const walk = async (abs: string, rel: string): Promise<void> => {
      for (const entry of await fs.readdir(abs, { withFileTypes: true })) {
        const childRel = rel === "" ? entry.name : `${rel}/${entry.name}`
        const childAbs = path.join(abs, entry.name)
        if (entry.isDirectory()) {
          dirs.set(childRel, statOf(await fs.lstat(childAbs)))
          await walk(childAbs, childRel)
        } else if (entry.isFile()) files.set(childRel, statOf(await fs.lstat(childAbs)))
        else others.push(childRel)
      }
    }
    try {
      const root = await fs.lstat(dir)
      if (root.isDirectory()) {
        dirs.set("", statOf(root))
        await walk(dir, "")
      }
    } catch (cause) {
      if (errnoCode(cause) !== "ENOENT" || files.size > 0) throw cause
    }
    return { files, dirs, others }
  })

/** A visible file: its bytes and permission bits. */
export interface TargetFile {
  readonly contents: Uint8Array
  readonly mode: number
}

/** What a read refuses, as an errno-style error so its message names the element (never its contents). */
const refusal = (code: "ELOOP" | "EXDEV", at: string): Error =>
  Object.assign(new Error(`${code}: ${at}`), { code, path: at })

/**
 * One regular file, opened without following a final symlink, and only if it lives on `device`: whatever an
 * element on the way resolves to, no byte of another filesystem (another pod's volume) is read.
 */
const readRegular = async (abs: string, device: number): Promise<TargetFile> => {
  const handle = await fs.open(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
  try {
    const st = await handle.stat()
    if (!st.isFile()) throw refusal("ELOOP", abs)
    if (st.dev !== device) throw refusal("EXDEV", abs)
    return { contents: new Uint8Array(await handle.readFile()), mode: st.mode & 0o7777 }
  } finally {
    await handle.close()
  }
}

/** A regular file or a directory tree; symlinks and special files are skipped, never followed. */
const collect = async (abs: string, rel: string, out: Map<string, TargetFile>, device: number): Promise<void> => {
  const st = await fs.lstat(abs)
  if (st.isFile()) {
    out.set(rel, await readRegular(abs, device))
  } else if (st.isDirectory()) {
    if (st.dev !== device) throw refusal("EXDEV", abs)
    for (const name of (await fs.readdir(abs)).sort()) {
      await collect(path.join(abs, name), `${rel}/${name}`, out, device)
    }
  }
}

/** `..data`'s data directory when it is one of ours: a timestamped name that is a real directory, not a link. */
const dataDirOf = async (target: string): Promise<string | undefined> => {
  let link: string
  try {
    link = await fs.readlink(path.join(target, DATA_LINK))
  } catch (cause) {
    if (["ENOENT", "EINVAL"].includes(errnoCode(cause) ?? "")) return undefined
    throw cause
  }
  if (!isDataDirName(link)) return undefined
  const st = await fs.lstat(path.join(target, link)).catch(() => undefined)
  return st?.isDirectory() === true ? link : undefined
}

/**
 * The only links followed are the writer's own: `..data` to a data directory in the target, and `<name>` to
 * `..data/<name>`. Any other link (planted, or left by something else) is skipped, so a reader never leaves the
 * target; every file read must be on the target's filesystem (`device`, by default the target's own).
 */
const readOnce = async (target: string, expected: number | undefined): Promise<ReadonlyMap<string, TargetFile>> => {
  const root = await fs.lstat(target)
  if (root.isSymbolicLink()) throw refusal("ELOOP", target)
  const device = expected ?? root.dev
  if (root.dev !== device) throw refusal("EXDEV", target)
  const out = new Map<string, TargetFile>()
  const dataDir = await dataDirOf(target)
  const entries = await fs.readdir(target, { withFileTypes: true })
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name.startsWith("..")) continue
    const abs = path.join(target, entry.name)
    if (!entry.isSymbolicLink()) await collect(abs, entry.name, out, device)
    // Our own links are read through the data dir resolved above: one consistent version.
    else if (dataDir !== undefined && (await fs.readlink(abs)) === visibleLinkTarget(entry.name)) {
      await collect(path.join(target, dataDir, entry.name), entry.name, out, device)
    }
  }
  return out
}

export interface ReadTargetOptions {
  /** The filesystem every file must come from (st_dev), e.g. the tmpfs a mount check just found at the target. */
  readonly device?: number
}

/**
 * The visible files of a target (path relative to the target -> bytes and mode), skipping names that start with
 * `..`. A rewrite may delete the resolved data dir mid-read: then the read is retried. A read in progress is not
 * interruptible, so once its fiber is gone no file of the target is still open (an unmount right after succeeds).
 */
export const readTarget = (
  target: string,
  options: ReadTargetOptions = {}
): Effect.Effect<ReadonlyMap<string, TargetFile>, TargetFilesError> =>
  Effect.uninterruptible(attempt(target, ".", () => readOnce(target, options.device))).pipe(
    Effect.retry({ times: 3, while: (e) => errnoCode(e.cause) === "ENOENT" })
  )
