// What a payload changes against a target's current data dir (docs/upstream.md#republish-and-rotation): bytes decide
// a rewrite, modes a chmod in place, and paths the old version had but the payload lacks are removed. An entry the
// writer did not make (a link, a stray directory) or a changed group or directory mode needs a new version.
import * as Effect from "effect/Effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { ProviderFile } from "../domain/ProviderFile.js"
import type { Ownership } from "./Ownership.js"
import { sameBytes, type ValidatedPayload } from "./Payload.js"
import { listFiles } from "./TargetFiles.js"
import { eachBounded } from "./WriteSteps.js"

const SAME = 0
const WRITTEN = 1
const CHMODDED = 2

/** The opening flags of every read or chmod in a data dir: a final symlink is refused, never followed. */
export const NO_FOLLOW = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK

/** The bytes of a regular file, opened without following a final link; a link or special file is no match. */
const readOwn = async (abs: string): Promise<Uint8Array | undefined> => {
  const handle = await fs.open(abs, NO_FOLLOW)
  try {
    return (await handle.stat()).isFile() ? new Uint8Array(await handle.readFile()) : undefined
  } finally {
    await handle.close()
  }
}

/** Every directory that holds one of `paths`, at any depth. */
const dirsHolding = (paths: Iterable<string>): ReadonlySet<string> => {
  const dirs = new Set<string>()
  for (const p of paths) {
    for (let i = p.lastIndexOf("/"); i > 0 && !dirs.has(p.slice(0, i)); i = p.lastIndexOf("/", i - 1)) {
      dirs.add(p.slice(0, i))
    }
  }
  return dirs
}

export interface TargetChanges {
  readonly written: ReadonlyArray<string>
  /** The payload's files with the same bytes and a new mode (their modes at hand). */
  readonly chmodded: ReadonlyArray<ProviderFile>
  /** Paths of the current version the payload lacks, foreign links and stray directories included. */
  readonly removed: ReadonlyArray<string>
  /** Files and directories ("" the data dir) whose group or directory mode the new ownership changes. */
  readonly regrouped: ReadonlyArray<string>
}

/**
 * Compares the payload with the current data dir: bytes decide a rewrite, modes a chmod, the group and directory
 * modes of `ownership` a new version. `chmodded` holds the payload's files (same bytes, new mode).
 */
export const diff = Effect.fn("AtomicWriter.diff")(function* (
  target: string,
  current: string | undefined,
  payload: ValidatedPayload,
  ownership: Ownership
) {
  const files = payload.files
  const written: Array<string> = []
  const chmodded: Array<ProviderFile> = []
  const removed: Array<string> = []
  const regrouped: Array<string> = []
  if (current === undefined) {
    return { written: files.map((f) => f.path), chmodded, removed, regrouped } satisfies TargetChanges
  }
  const dir = path.join(target, current)
  const listing = yield* listFiles(target, dir)
  const old = listing.files
  const wanted = new Set(payload.dirs)
  const holding = dirsHolding(old.keys())
  for (const [rel, st] of listing.dirs) {
    // A directory the payload no longer needs goes with its files; an empty one was planted and is named itself.
    if (rel !== "" && !wanted.has(rel)) {
      if (!holding.has(rel)) removed.push(rel)
    } else if (st.gid !== ownership.gid || st.mode !== ownership.dirMode) regrouped.push(rel)
  }
  removed.push(...listing.others)
  // One byte per file, by index: the lists below keep the payload's order whatever order the reads finish in.
  const kinds = new Uint8Array(files.length)
  const toRead: Array<number> = []
  files.forEach((file, i) => {
    const prev = old.get(file.path)
    if (prev === undefined || prev.size !== file.contents.byteLength) kinds[i] = WRITTEN
    else toRead.push(i)
    if (prev !== undefined && prev.gid !== ownership.gid) regrouped.push(file.path)
  })
  yield* eachBounded(
    target,
    "read",
    toRead,
    (i) => files[i]!.path,
    async (i) => {
      const file = files[i]!
      const bytes = await readOwn(path.join(dir, file.path))
      const sameMode = old.get(file.path)!.mode === ownership.fileMode(file.mode)
      kinds[i] = bytes === undefined || !sameBytes(file.contents, bytes) ? WRITTEN : sameMode ? SAME : CHMODDED
    }
  )
  files.forEach((file, i) => {
    if (kinds[i] === WRITTEN) written.push(file.path)
    else if (kinds[i] === CHMODDED) chmodded.push(file)
  })
  for (const p of old.keys()) if (!payload.paths.has(p)) removed.push(p)
  return { written, chmodded, removed: removed.sort(), regrouped } satisfies TargetChanges
})
