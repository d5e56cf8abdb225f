// The live atomic write (docs/upstream.md#atomic-writer-layout, #republish-and-rotation): a new timestamped data dir
// published by renaming `..data_tmp` over `..data`, so readers see the old or the new version, never a mix. Callers
// serialize writes per target (mount/TargetLocks); one writer per target at a time is assumed here.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { errnoCode } from "../platform/errno.js"
import { type Ownership, ownershipFor, type WriteOptions } from "./Ownership.js"
import type { ValidatedPayload } from "./Payload.js"
import { diff, NO_FOLLOW } from "./TargetDiff.js"
import {
  currentDataDir,
  DATA_LINK,
  DATA_LINK_TMP,
  dataDirName,
  isDataDirName,
  type TargetFilesError,
  visibleLinkTarget
} from "./TargetFiles.js"
import { eachBounded, fitsBeside, removeQuietly, step } from "./WriteSteps.js"

/** What a write did. `changed` is true when any visible byte, mode, file or legacy entry changed. */
export interface WriteOutcome {
  readonly changed: boolean
  /** A new data dir was published (`..data` swapped). */
  readonly swapped: boolean
  /** Files whose bytes are new or differ from the previous version. */
  readonly written: ReadonlyArray<string>
  /** Files with the same bytes and a new mode; applied in place when nothing else changed. */
  readonly chmodded: ReadonlyArray<string>
  /** Files of the previous version that are gone, and links or empty directories planted in its data dir. */
  readonly removed: ReadonlyArray<string>
  /** Files and directories ("" the data dir) of the previous version whose group or directory mode changed. */
  readonly regrouped: ReadonlyArray<string>
  /**
   * Top-level names deleted to heal the layout: legacy entries, orphan data dirs, a broken `..data`, and (when the
   * payload has files) every entry the writer did not make.
   */
  readonly healed: ReadonlyArray<string>
}

const DIR_MODE = 0o755
const MKDIR_ATTEMPTS = 5

/**
 * Deletes what would break or confuse the layout: legacy non-links, foreign links, orphans, a bad `..data`. With
 * `strict` (the payload has files) every other entry the writer did not make goes too: a file, directory or link a
 * pod or anything else put there. Without (an empty payload: a legacy provider writes its own files) those stay.
 * Our own links to names the payload lacks stay until the swap (unlinkStale), so readers of the old version keep
 * them. Links are read, never followed; removing one removes the link.
 */
const heal = Effect.fn("AtomicWriter.heal")(function* (
  target: string,
  current: string | undefined,
  topLevel: ReadonlySet<string>,
  strict: boolean
) {
  const entries = yield* step(target, ".", "list", () => fs.readdir(target, { withFileTypes: true }))
  const doomed: Array<string> = []
  const ownLink = (name: string) =>
    step(target, name, "read link", () => fs.readlink(path.join(target, name))).pipe(
      Effect.map((link) => link === visibleLinkTarget(name))
    )
  for (const entry of entries) {
    const name = entry.name
    const isLink = entry.isSymbolicLink()
    if (name === current) continue
    if (name === DATA_LINK) {
      if (!isLink) doomed.push(name)
    } else if (name === DATA_LINK_TMP || isDataDirName(name)) {
      doomed.push(name)
    } else if (topLevel.has(name)) {
      if (!isLink || !(yield* ownLink(name))) doomed.push(name)
    } else if (strict && (!isLink || name.startsWith("..") || !(yield* ownLink(name)))) {
      doomed.push(name)
    }
  }
  yield* Effect.forEach(
    doomed,
    (name) => step(target, name, "remove", () => fs.rm(path.join(target, name), { recursive: true, force: true })),
    {
      discard: true
    }
  )
  return doomed
})

/**
 * A directory of the new version: with a group, created 0700, chowned, then opened to the group, so no one outside
 * the group ever sees into it; chown(2) does not follow a final link, and chmod happens only after it.
 */
const makeDir = async (abs: string, ownership: Ownership): Promise<void> => {
  if (ownership.chownGroup === undefined) {
    await fs.mkdir(abs, { mode: DIR_MODE })
    await fs.chmod(abs, DIR_MODE)
    return
  }
  await fs.mkdir(abs, { mode: 0o700 })
  await fs.lchown(abs, -1, ownership.chownGroup)
  await fs.chmod(abs, ownership.dirMode)
}

/** Creates `..<timestamp>.<random>` (mode 0755, 0750 with a group); the random suffix is retried on a name clash. */
const makeDataDir = Effect.fn("AtomicWriter.makeDataDir")(function* (target: string, ownership: Ownership) {
  const now = yield* Clock.currentTimeMillis
  for (let attempt = 1; ; attempt++) {
    const name = dataDirName(now, String(yield* Random.nextIntBetween(0, 0xffffffff)))
    const created = yield* step(target, name, "create", async () => {
      try {
        await makeDir(path.join(target, name), ownership)
        return true
      } catch (cause) {
        if (errnoCode(cause) === "EEXIST" && attempt < MKDIR_ATTEMPTS) return false
        throw cause
      }
    })
    if (created) return name
  }
})

/** One new file, its group set before its mode opens it to the group: no one else ever reads it. */
const writeFile = async (abs: string, contents: Uint8Array, mode: number, ownership: Ownership): Promise<void> => {
  if (ownership.chownGroup === undefined) {
    await fs.writeFile(abs, contents, { mode, flag: "wx" })
    await fs.chmod(abs, mode)
    return
  }
  const handle = await fs.open(abs, "wx", 0o600)
  try {
    await handle.writeFile(contents)
    await handle.chown(-1, ownership.chownGroup)
    await handle.chmod(ownership.fileMode(mode))
  } finally {
    await handle.close()
  }
}

/**
 * Writes every file into a fresh data dir, with the ownership and modes of `ownership`, all before the swap: a
 * reader never sees a file with the wrong group. Modes are applied by chmod so the umask cannot interfere.
 */
const writeTree = Effect.fn("AtomicWriter.writeTree")(function* (
  target: string,
  dataDir: string,
  payload: ValidatedPayload,
  ownership: Ownership
) {
  const root = path.join(target, dataDir)
  // Sequential: a directory must exist before its children (the payload lists parents first).
  for (const dir of payload.dirs) {
    yield* step(target, dir, "create directory", () => makeDir(path.join(root, dir), ownership))
  }
  yield* eachBounded(
    target,
    "write",
    payload.files,
    (file) => file.path,
    (file) => writeFile(path.join(root, file.path), file.contents, file.mode, ownership)
  )
})

/** Creates the missing `<name> -> ..data/<name>` links; returns the names it created. */
const linkVisible = Effect.fn("AtomicWriter.linkVisible")(function* (target: string, topLevel: ReadonlyArray<string>) {
  const created: Array<string> = []
  yield* eachBounded(
    target,
    "link",
    topLevel,
    (name) => name,
    async (name) => {
      try {
        await fs.symlink(visibleLinkTarget(name), path.join(target, name))
        created.push(name)
      } catch (cause) {
        if (errnoCode(cause) !== "EEXIST") throw cause // EEXIST: heal() left only our own link there
      }
    }
  ).pipe(Effect.onError(() => removeQuietly(...created.map((name) => path.join(target, name)))))
  return created
})

/** The atomic step: `..data_tmp -> <dataDir>`, renamed over `..data`. */
const swap = (target: string, dataDir: string): Effect.Effect<void, TargetFilesError> =>
  step(target, DATA_LINK, "swap", async () => {
    const tmp = path.join(target, DATA_LINK_TMP)
    await fs.rm(tmp, { force: true })
    await fs.symlink(dataDir, tmp)
    await fs.rename(tmp, path.join(target, DATA_LINK))
  })

/** Stages a new data dir and publishes it; on failure the target keeps its previous version. */
const publish = Effect.fn("AtomicWriter.publish")(function* (
  target: string,
  payload: ValidatedPayload,
  ownership: Ownership
) {
  const dataDir = yield* makeDataDir(target, ownership)
  yield* Effect.gen(function* () {
    yield* writeTree(target, dataDir, payload, ownership)
    const created = yield* linkVisible(target, payload.topLevel)
    yield* swap(target, dataDir).pipe(
      Effect.onError(() => removeQuietly(...created.map((name) => path.join(target, name))))
    )
  }).pipe(Effect.onError(() => removeQuietly(path.join(target, dataDir), path.join(target, DATA_LINK_TMP))))
})

/** Removes visible links into `..data` whose name the payload no longer has. */
const unlinkStale = Effect.fn("AtomicWriter.unlinkStale")(function* (target: string, topLevel: ReadonlySet<string>) {
  const entries = yield* step(target, ".", "list", () => fs.readdir(target, { withFileTypes: true }))
  for (const entry of entries) {
    const name = entry.name
    if (name.startsWith("..") || topLevel.has(name) || !entry.isSymbolicLink()) continue
    const abs = path.join(target, name)
    const link = yield* step(target, name, "read link", () => fs.readlink(abs))
    if (link === visibleLinkTarget(name)) yield* step(target, name, "remove", () => fs.rm(abs, { force: true }))
  }
})

/** A mode change in place, on the file itself: opened without following a final link, then fchmod. */
const chmodOwn = async (abs: string, mode: number): Promise<void> => {
  const handle = await fs.open(abs, NO_FOLLOW)
  try {
    await handle.chmod(mode)
  } finally {
    await handle.close()
  }
}

/**
 * Writes `payload` into `targetDir` (which must exist): docs/upstream.md#atomic-writer-layout; see WriteOutcome.
 * `options.group` owns the new version (Ownership.ts); a changed group is a new version, swapped like new bytes.
 */
export const writeTarget = Effect.fn("AtomicWriter.write")(function* (
  targetDir: string,
  payload: ValidatedPayload,
  options?: WriteOptions
) {
  const target = path.resolve(targetDir)
  const ownership = ownershipFor(options)
  const current = yield* currentDataDir(target)
  const topLevel: ReadonlySet<string> = new Set(payload.topLevel)
  const healed = yield* heal(target, current, topLevel, payload.files.length > 0)
  const { written, chmodded, removed, regrouped } = yield* diff(target, current, payload, ownership)
  const swapped = current === undefined || written.length + removed.length + regrouped.length > 0
  if (swapped) {
    if (current !== undefined) yield* fitsBeside(target, payload, options?.sizeLimit ?? 0)
    yield* publish(target, payload, ownership)
    // Published: from here on a failure is a leftover for the next write to heal, not a failed write.
    if (current !== undefined) {
      yield* step(target, current, "remove", () =>
        fs.rm(path.join(target, current), { recursive: true, force: true })
      ).pipe(Effect.catchTag("TargetFilesError", (e) => Effect.logWarning(e.message)))
    }
    yield* unlinkStale(target, topLevel).pipe(Effect.catchTag("TargetFilesError", (e) => Effect.logWarning(e.message)))
  } else {
    yield* eachBounded(
      target,
      "chmod",
      chmodded,
      (file) => file.path,
      (file) => chmodOwn(path.join(target, current, file.path), ownership.fileMode(file.mode))
    )
    yield* linkVisible(target, payload.topLevel)
    yield* unlinkStale(target, topLevel)
  }
  // A legacy entry replaced by our link changes what readers see even when the bytes are the same.
  const changed =
    written.length + chmodded.length + removed.length + regrouped.length > 0 || healed.some((n) => !n.startsWith(".."))
  return {
    changed,
    swapped,
    written,
    chmodded: chmodded.map((f) => f.path),
    removed,
    regrouped,
    healed
  } satisfies WriteOutcome
})
