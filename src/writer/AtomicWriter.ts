// The AtomicWriter service: writes validated payloads into target directories and reads them back.
// `layer` is the real filesystem (TargetWrite.ts, TargetFiles.ts); `layerInMemory` keeps payloads in a
// map for unit tests of callers, with `AtomicWriterInMemory` to inspect them and to inject a write failure.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as path from "node:path"
import type { WriteOptions } from "./Ownership.js"
import { sameBytes, type ValidatedPayload } from "./Payload.js"
import { type ReadTargetOptions, readTarget, type TargetFile, TargetFilesError } from "./TargetFiles.js"
import { type WriteOutcome, writeTarget } from "./TargetWrite.js"

export { readTarget, type TargetFile, TargetFilesError } from "./TargetFiles.js"
export type { WriteOptions } from "./Ownership.js"
export type { WriteOutcome } from "./TargetWrite.js"

export interface AtomicWriterShape {
  /**
   * Makes `targetDir` (which must exist) show exactly `payload`: readers see the old files or the new
   * ones, never a mix. Calls for one target must not overlap (callers serialize per target). `options.group`: the
   * gid of every file and directory, with group-readable modes (Ownership.ts).
   */
  readonly write: (
    targetDir: string,
    payload: ValidatedPayload,
    options?: WriteOptions
  ) => Effect.Effect<WriteOutcome, TargetFilesError>
  /**
   * The visible files of a target, path relative to the target -> bytes and mode (see `readTarget`); with
   * `options.device`, a file on another filesystem fails the read (the in-memory twin has no devices to check).
   */
  readonly read: (
    targetDir: string,
    options?: ReadTargetOptions
  ) => Effect.Effect<ReadonlyMap<string, TargetFile>, TargetFilesError>
}

export class AtomicWriter extends Context.Service<AtomicWriter, AtomicWriterShape>()("AtomicWriter") {
  /** The real filesystem. */
  static readonly layer: Layer.Layer<AtomicWriter> = Layer.succeed(AtomicWriter, {
    write: writeTarget,
    read: (targetDir, options) => readTarget(path.resolve(targetDir), options)
  })

  /** In memory, plus `AtomicWriterInMemory` to inspect what was written and to make the next write fail. */
  static readonly layerInMemory: Layer.Layer<AtomicWriter | AtomicWriterInMemory> = Layer.syncContext(() =>
    makeInMemory()
  )
}

/** Test handle of `AtomicWriter.layerInMemory`. Target paths are compared after `path.resolve`. */
export interface AtomicWriterInMemoryShape {
  /** The last payload written successfully to `targetDir`, if any. */
  readonly lastWrite: (targetDir: string) => Effect.Effect<Option.Option<ValidatedPayload>>
  /** The options of that write (the mount group), if any. */
  readonly lastOptions: (targetDir: string) => Effect.Effect<Option.Option<WriteOptions>>
  /** The target of every write call so far, in order, failed ones included. */
  readonly attempts: Effect.Effect<ReadonlyArray<string>>
  /** Makes the next write (to any target) fail with a FileWriteError carrying `message`; nothing is stored. */
  readonly failNextWrite: (message?: string) => Effect.Effect<void>
  /** Forgets a target, as an unpublish that removed the directory would. */
  readonly forget: (targetDir: string) => Effect.Effect<void>
}

export class AtomicWriterInMemory extends Context.Service<AtomicWriterInMemory, AtomicWriterInMemoryShape>()(
  "AtomicWriterInMemory"
) {}

/** The outcome the live writer would report for `next` over `prev` (nothing to heal in memory). */
const outcome = (prev: Stored | undefined, nextPayload: ValidatedPayload, nextOptions: WriteOptions): WriteOutcome => {
  const next = nextPayload
  // As the live diff reports it: the data dir, then the kept directories and files of the previous version.
  const regrouped =
    prev !== undefined && prev.options.group !== nextOptions.group
      ? [
          "",
          ...prev.payload.dirs.filter((d) => nextPayload.dirs.includes(d)),
          ...prev.payload.files.map((f) => f.path).filter((p) => nextPayload.paths.has(p))
        ]
      : []
  const old = new Map(prev?.payload.files.map((f) => [f.path, f]))
  const written = next.files
    .filter((f) => {
      const before = old.get(f.path)
      return before === undefined || !sameBytes(before.contents, f.contents)
    })
    .map((f) => f.path)
  const chmodded = next.files
    .filter((f) => !written.includes(f.path) && old.get(f.path)?.mode !== f.mode)
    .map((f) => f.path)
  const paths = new Set(next.files.map((f) => f.path))
  const removed = [...old.keys()].filter((p) => !paths.has(p)).sort()
  const changed = written.length + chmodded.length + removed.length + regrouped.length > 0
  const swapped = prev === undefined || written.length + removed.length + regrouped.length > 0
  return { changed, swapped, written, chmodded, removed, regrouped, healed: [] }
}

const byPath = (a: { readonly path: string }, b: { readonly path: string }): number =>
  a.path < b.path ? -1 : a.path > b.path ? 1 : 0

interface Stored {
  readonly payload: ValidatedPayload
  readonly options: WriteOptions
}

const makeInMemory = (): Context.Context<AtomicWriter | AtomicWriterInMemory> => {
  const targets = new Map<string, Stored>()
  const attempts: Array<string> = []
  let nextFailure: string | undefined

  const write = Effect.fn("AtomicWriter.write")(function* (
    targetDir: string,
    payload: ValidatedPayload,
    options: WriteOptions = {}
  ) {
    const target = path.resolve(targetDir)
    attempts.push(target)
    const failure = nextFailure
    if (failure !== undefined) {
      nextFailure = undefined
      return yield* new TargetFilesError({ reason: "FileWriteError", target, path: ".", message: failure })
    }
    const result = outcome(targets.get(target), payload, options)
    targets.set(target, { payload, options })
    return result
  })

  const read = Effect.fn("AtomicWriter.read")(function* (targetDir: string) {
    const target = path.resolve(targetDir)
    const payload = targets.get(target)?.payload
    if (payload === undefined) {
      return yield* new TargetFilesError({
        reason: "FileWriteError",
        target,
        path: ".",
        message: `cannot read "." in target ${target}: ENOENT`
      })
    }
    const files = [...payload.files].sort(byPath)
    return new Map(files.map((f) => [f.path, { contents: f.contents, mode: f.mode }])) as ReadonlyMap<
      string,
      TargetFile
    >
  })

  const handle: AtomicWriterInMemoryShape = {
    lastWrite: (targetDir) => Effect.sync(() => Option.fromUndefinedOr(targets.get(path.resolve(targetDir))?.payload)),
    lastOptions: (targetDir) =>
      Effect.sync(() => Option.fromUndefinedOr(targets.get(path.resolve(targetDir))?.options)),
    attempts: Effect.sync(() => [...attempts]),
    failNextWrite: (message = "injected write failure") =>
      Effect.sync(() => {
        nextFailure = message
      }),
    forget: (targetDir) =>
      Effect.sync(() => {
        targets.delete(path.resolve(targetDir))
      })
  }
  return Context.make(AtomicWriter, { write, read }).pipe(Context.add(AtomicWriterInMemory, handle))
}
