// The live atomic write (docs/upstream.md#atomic-writer-layout, #republish-and-rotation): a new timestamped data dir
// published by renaming `..data_tmp` over `..data`, so readers see the old or the new version, never a mix. Callers
// serialize writes per target (mount/TargetLocks); one writer per target at a time is assumed here.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { errnoCode } from "../platform/errno.js"
import type { ValidatedPayload } from "./Payload.js"
import { diff } from "./TargetDiff.js"
import {
  currentDataDir,
  DATA_LINK,
  DATA_LINK_TMP,
  dataDirName,
  isDataDirName,
  type TargetFilesError,
  visibleLinkTarget
} from "./TargetFiles.js"
import { eachBounded, removeQuietly, step } from "./WriteSteps.js"

/** What a write did. `changed` is true when any visible byte, mode, file or legacy entry changed. */
export interface WriteOutcome {
  readonly changed: boolean
  /** A new data dir was published (`..data` swapped). */
  readonly swapped: boolean
  /** Files whose bytes are new or differ from the previous version. */
  readonly written: ReadonlyArray<string>
  /** Files with the same bytes and a new mode; applied in place when nothing else changed. */
  readonly chmodded: ReadonlyArray<string>
  /** Files of the previous version that are gone. */
  readonly removed: ReadonlyArray<string>
  /** Top-level names deleted to heal the layout: legacy entries, orphan data dirs, a broken `..data`. */
  readonly healed: ReadonlyArray<string>
}

const DIR_MODE = 0o755
const MKDIR_ATTEMPTS = 5

/** Deletes what would break or confuse the layout: legacy non-links, foreign links, orphans, a bad `..data`. */
const heal = Effect.fn("AtomicWriter.heal")(function* (
  target: string,
  current: string | undefined,
  topLevel: ReadonlySet<string>
) {
  const entries = yield* step(target, ".", "list", () => fs.readdir(target, { withFileTypes: true }))
  const doomed: Array<string> = []
  for (const entry of entries) {
    const name = entry.name
    const isLink = entry.isSymbolicLink()
    if (name === DATA_LINK) {
      if (!isLink) doomed.push(name)
    } else if (name === DATA_LINK_TMP || (isDataDirName(name) && name !== current)) {
      doomed.push(name)
    } else if (topLevel.has(name)) {
      const ours =
        isLink &&
        (yield* step(target, name, "read link", () => fs.readlink(path.join(target, name)))) === visibleLinkTarget(name)
      if (!ours) doomed.push(name)
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

/** Creates `..<timestamp>.<random>` with mode 0755; the random suffix is retried on a name clash. */
const makeDataDir = Effect.fn("AtomicWriter.makeDataDir")(function* (target: string) {
  const now = yield* Clock.currentTimeMillis
  for (let attempt = 1; ; attempt++) {
    const name = dataDirName(now, String(yield* Random.nextIntBetween(0, 0xffffffff)))
    const created = yield* step(target, name, "create", async () => {
      try {
        await fs.mkdir(path.join(target, name), { mode: DIR_MODE })
        return true
      } catch (cause) {
        if (errnoCode(cause) === "EEXIST" && attempt < MKDIR_ATTEMPTS) return false
        throw cause
      }
    })
    if (created) {
      yield* step(target, name, "chmod", () => fs.chmod(path.join(target, name), DIR_MODE))
      return name
    }
  }
})

/** Writes every file into a fresh data dir; modes are applied by chmod so the umask cannot interfere. */
const writeTree = Effect.fn("AtomicWriter.writeTree")(function* (
  target: string,
  dataDir: string,
  payload: ValidatedPayload
) {
  const root = path.join(target, dataDir)
  // Sequential: a directory must exist before its children (the payload lists parents first).
  for (const dir of payload.dirs) {
    yield* step(target, dir, "create directory", async () => {
      await fs.mkdir(path.join(root, dir), { mode: DIR_MODE })
      await fs.chmod(path.join(root, dir), DIR_MODE)
    })
  }
  yield* eachBounded(
    target,
    "write",
    payload.files,
    (file) => file.path,
    async (file) => {
      const abs = path.join(root, file.path)
      await fs.writeFile(abs, file.contents, { mode: file.mode, flag: "wx" })
      await fs.chmod(abs, file.mode)
    }
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
const publish = Effect.fn("AtomicWriter.publish")(function* (target: string, payload: ValidatedPayload) {
  const dataDir = yield* makeDataDir(target)
  yield* Effect.gen(function* () {
    yield* writeTree(target, dataDir, payload)
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

/** Writes `payload` into `targetDir` (which must exist): docs/upstream.md#atomic-writer-layout; see WriteOutcome. */
export const writeTarget = Effect.fn("AtomicWriter.write")(function* (targetDir: string, payload: ValidatedPayload) {
  const target = path.resolve(targetDir)
  const current = yield* currentDataDir(target)
  const topLevel: ReadonlySet<string> = new Set(payload.topLevel)
  const healed = yield* heal(target, current, topLevel)
  const { written, chmodded, removed } = yield* diff(target, current, payload)
  const swapped = current === undefined || written.length > 0 || removed.length > 0
  if (swapped) {
    yield* publish(target, payload)
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
      (file) => fs.chmod(path.join(target, current, file.path), file.mode)
    )
    yield* linkVisible(target, payload.topLevel)
    yield* unlinkStale(target, topLevel)
  }
  // A legacy entry replaced by our link changes what readers see even when the bytes are the same.
  const changed = written.length + chmodded.length + removed.length > 0 || healed.some((n) => !n.startsWith(".."))
  return { changed, swapped, written, chmodded: chmodded.map((f) => f.path), removed, healed } satisfies WriteOutcome
})
