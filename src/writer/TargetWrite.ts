// The live atomic write (upstream §6.1–§6.3): a validated payload becomes a timestamped data dir published
// by renaming `..data_tmp` over `..data`, so readers see the old or the new version, never a mix. Callers
// serialize writes per target (mount/TargetLocks); one writer per target at a time is assumed here.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { ProviderFile, ValidatedPayload } from "./Payload.js"
import { ancestors, quotePath, sameBytes } from "./Payload.js"
import {
  currentDataDir,
  DATA_LINK,
  DATA_LINK_TMP,
  dataDirName,
  errnoCode,
  isDataDirName,
  listFiles,
  type TargetReadError,
  visibleLinkTarget
} from "./TargetFiles.js"

export class WriteError extends Schema.TaggedError<WriteError>()("WriteError", {
  reason: Schema.Literal("FileWriteError"),
  message: Schema.String,
  target: Schema.String,
  path: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

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
const WRITE_CONCURRENCY = 16
const MKDIR_ATTEMPTS = 5

const writeFailure = (target: string, rel: string, what: string, cause: unknown): WriteError =>
  new WriteError({
    reason: "FileWriteError",
    target,
    path: rel,
    message: `cannot ${what} ${quotePath(rel)} in target ${target}: ${errnoCode(cause) ?? "unexpected error"}`,
    cause
  })

const step = <A>(target: string, rel: string, what: string, run: () => Promise<A>): Effect.Effect<A, WriteError> =>
  Effect.tryPromise({ try: run, catch: (cause) => writeFailure(target, rel, what, cause) })

const fromReadError = (e: TargetReadError): WriteError =>
  new WriteError({ reason: "FileWriteError", target: e.target, path: e.path, message: e.message, cause: e.cause })

/** Best-effort removal for cleanup paths; a leftover is healed by the next write. */
const removeQuietly = (...paths: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.promise(() => Promise.all(paths.map((p) => fs.rm(p, { recursive: true, force: true }).catch(() => undefined))))

/** Deletes what would break or confuse the layout: legacy non-links, foreign links, orphans, a bad `..data`. */
const heal = Effect.fn("AtomicWriter.heal")(function*(target: string, current: string | undefined, topLevel: ReadonlySet<string>) {
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
      const ours = isLink && (yield* step(target, name, "read link", () => fs.readlink(path.join(target, name)))) ===
        visibleLinkTarget(name)
      if (!ours) doomed.push(name)
    }
  }
  yield* Effect.forEach(doomed, (name) =>
    step(target, name, "remove", () => fs.rm(path.join(target, name), { recursive: true, force: true })), {
    discard: true
  })
  return doomed
})

interface Diff {
  readonly written: ReadonlyArray<string>
  readonly chmodded: ReadonlyArray<string>
  readonly removed: ReadonlyArray<string>
}


/** Compares the payload with the current data dir: bytes decide a rewrite, modes a chmod. */
const diff = Effect.fn("AtomicWriter.diff")(function*(target: string, current: string | undefined, files: ReadonlyArray<ProviderFile>) {
  if (current === undefined) return { written: files.map((f) => f.path), chmodded: [], removed: [] }
  const dir = path.join(target, current)
  const old = yield* listFiles(target, dir).pipe(Effect.mapError(fromReadError))
  const kinds = yield* Effect.forEach(files, (file) => {
    const prev = old.get(file.path)
    if (prev === undefined || prev.size !== file.contents.byteLength) return Effect.succeed("written" as const)
    return step(target, file.path, "read", () => fs.readFile(path.join(dir, file.path))).pipe(
      Effect.map((bytes) =>
        !sameBytes(file.contents, bytes) ? "written" as const : prev.mode !== file.mode ? "chmodded" as const : "same" as const
      )
    )
  }, { concurrency: WRITE_CONCURRENCY })
  const next = new Set(files.map((f) => f.path))
  return {
    written: files.filter((_, i) => kinds[i] === "written").map((f) => f.path),
    chmodded: files.filter((_, i) => kinds[i] === "chmodded").map((f) => f.path),
    removed: [...old.keys()].filter((p) => !next.has(p)).sort()
  }
})

/** Creates `..<timestamp>.<random>` with mode 0755; the random suffix is retried on a name clash. */
const makeDataDir = Effect.fn("AtomicWriter.makeDataDir")(function*(target: string) {
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

/** Parent directories of every file, parents before children. */
const parentDirs = (files: ReadonlyArray<ProviderFile>): ReadonlyArray<string> => {
  const dirs = new Set(files.flatMap((file) => ancestors(file.path)))
  return [...dirs].sort((a, b) => a.split("/").length - b.split("/").length)
}

/** Writes every file into a fresh data dir; modes are applied by chmod so the umask cannot interfere. */
const writeTree = Effect.fn("AtomicWriter.writeTree")(function*(target: string, dataDir: string, files: ReadonlyArray<ProviderFile>) {
  const root = path.join(target, dataDir)
  for (const dir of parentDirs(files)) {
    yield* step(target, dir, "create directory", async () => {
      await fs.mkdir(path.join(root, dir), { mode: DIR_MODE })
      await fs.chmod(path.join(root, dir), DIR_MODE)
    })
  }
  yield* Effect.forEach(files, (file) =>
    step(target, file.path, "write", async () => {
      const abs = path.join(root, file.path)
      await fs.writeFile(abs, file.contents, { mode: file.mode, flag: "wx" })
      await fs.chmod(abs, file.mode)
    }), { concurrency: WRITE_CONCURRENCY, discard: true })
})

/** Creates the missing `<name> -> ..data/<name>` links; returns the names it created. */
const linkVisible = Effect.fn("AtomicWriter.linkVisible")(function*(target: string, topLevel: ReadonlySet<string>) {
  const created: Array<string> = []
  for (const name of topLevel) {
    const made = yield* step(target, name, "link", async () => {
      try {
        await fs.symlink(visibleLinkTarget(name), path.join(target, name))
        return true
      } catch (cause) {
        if (errnoCode(cause) === "EEXIST") return false // heal() left only our own link there
        throw cause
      }
    })
    if (made) created.push(name)
  }
  return created
})

/** The atomic step: `..data_tmp -> <dataDir>`, renamed over `..data`. */
const swap = (target: string, dataDir: string): Effect.Effect<void, WriteError> =>
  step(target, DATA_LINK, "swap", async () => {
    const tmp = path.join(target, DATA_LINK_TMP)
    await fs.rm(tmp, { force: true })
    await fs.symlink(dataDir, tmp)
    await fs.rename(tmp, path.join(target, DATA_LINK))
  })

/** Stages a new data dir and publishes it; on failure the target keeps its previous version. */
const publish = Effect.fn("AtomicWriter.publish")(function*(target: string, payload: ValidatedPayload, topLevel: ReadonlySet<string>) {
  const dataDir = yield* makeDataDir(target)
  yield* Effect.gen(function*() {
    yield* writeTree(target, dataDir, payload.files)
    const created = yield* linkVisible(target, topLevel)
    yield* swap(target, dataDir).pipe(
      Effect.onError(() => removeQuietly(...created.map((name) => path.join(target, name))))
    )
  }).pipe(Effect.onError(() => removeQuietly(path.join(target, dataDir), path.join(target, DATA_LINK_TMP))))
})

/** Removes visible links into `..data` whose name the payload no longer has. */
const unlinkStale = Effect.fn("AtomicWriter.unlinkStale")(function*(target: string, topLevel: ReadonlySet<string>) {
  const entries = yield* step(target, ".", "list", () => fs.readdir(target, { withFileTypes: true }))
  for (const entry of entries) {
    const name = entry.name
    if (name.startsWith("..") || topLevel.has(name) || !entry.isSymbolicLink()) continue
    const abs = path.join(target, name)
    const link = yield* step(target, name, "read link", () => fs.readlink(abs))
    if (link === visibleLinkTarget(name)) yield* step(target, name, "remove", () => fs.rm(abs, { force: true }))
  }
})

/** Writes `payload` into `targetDir` (which must exist) following upstream §6.1; see WriteOutcome. */
export const writeTarget = Effect.fn("AtomicWriter.write")(function*(targetDir: string, payload: ValidatedPayload) {
  const target = path.resolve(targetDir)
  const current = yield* currentDataDir(target).pipe(Effect.mapError(fromReadError))
  const topLevel: ReadonlySet<string> = new Set(payload.topLevel)
  const healed = yield* heal(target, current, topLevel)
  const { written, chmodded, removed } = yield* diff(target, current, payload.files)
  const swapped = current === undefined || written.length > 0 || removed.length > 0
  if (swapped) {
    yield* publish(target, payload, topLevel)
    // Published: from here on a failure is a leftover for the next write to heal, not a failed write.
    if (current !== undefined) {
      yield* step(target, current, "remove", () => fs.rm(path.join(target, current), { recursive: true, force: true }))
        .pipe(Effect.catchTag("WriteError", (e) => Effect.logWarning(e.message)))
    }
    yield* unlinkStale(target, topLevel).pipe(Effect.catchTag("WriteError", (e) => Effect.logWarning(e.message)))
  } else {
    const modes = new Map(payload.files.map((f) => [f.path, f.mode]))
    for (const p of chmodded) {
      yield* step(target, p, "chmod", () => fs.chmod(path.join(target, current, p), modes.get(p)!))
    }
    yield* linkVisible(target, topLevel)
    yield* unlinkStale(target, topLevel)
  }
  // A legacy entry replaced by our link changes what readers see even when the bytes are the same.
  const changed = written.length + chmodded.length + removed.length > 0 || healed.some((n) => !n.startsWith(".."))
  return { changed, swapped, written, chmodded, removed, healed } satisfies WriteOutcome
})
