// The filesystem steps the atomic writer and its diff are made of: each a typed FileWriteError naming the path on
// failure, a bounded pool of promise workers for per-file work, and the quiet removal cleanup paths use.
import * as Effect from "effect/Effect"
import * as fs from "node:fs/promises"
import { errnoCode } from "../platform/errno.js"
import { quotePath, tmpfsFootprint, type ValidatedPayload } from "./Payload.js"
import { TargetFilesError } from "./TargetFiles.js"

const WRITE_CONCURRENCY = 16

export const writeFailure = (target: string, rel: string, what: string, cause: unknown): TargetFilesError =>
  new TargetFilesError({
    reason: "FileWriteError",
    target,
    path: rel,
    message: `cannot ${what} ${quotePath(rel)} in target ${target}: ${errnoCode(cause) ?? "unexpected error"}`,
    cause
  })

export const step = <A>(
  target: string,
  rel: string,
  what: string,
  run: () => Promise<A>
): Effect.Effect<A, TargetFilesError> =>
  Effect.tryPromise({ try: run, catch: (cause) => writeFailure(target, rel, what, cause) })

/**
 * Runs `run` over `items` with at most WRITE_CONCURRENCY in flight, as promise workers inside one effect: no fiber
 * or effect per item, so 10,000 files cost 16 workers. The first failure stops the workers and names its item.
 */
export const eachBounded = <A>(
  target: string,
  what: string,
  items: ReadonlyArray<A>,
  relOf: (item: A) => string,
  run: (item: A) => Promise<void>
): Effect.Effect<void, TargetFilesError> =>
  Effect.tryPromise({
    try: async (signal) => {
      let next = 0
      let failure: TargetFilesError | undefined
      const worker = async () => {
        while (failure === undefined && !signal.aborted && next < items.length) {
          const item = items[next++]!
          try {
            await run(item)
          } catch (cause) {
            failure ??= writeFailure(target, relOf(item), what, cause)
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, items.length) }, worker))
      if (failure !== undefined) throw failure
    },
    catch: (cause) => (cause instanceof TargetFilesError ? cause : writeFailure(target, ".", what, cause))
  })

/** Best-effort removal for cleanup paths; a leftover is healed by the next write. */
export const removeQuietly = (...paths: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.promise(() => Promise.all(paths.map((p) => fs.rm(p, { recursive: true, force: true }).catch(() => undefined))))

/**
 * A new version is written beside the current one and swapped in before the old goes: both must fit the tmpfs at
 * once. Refused before anything is staged (the current files stay), rather than failing half-way with ENOSPC.
 */
export const fitsBeside = Effect.fn("AtomicWriter.fitsBeside")(function* (
  target: string,
  payload: ValidatedPayload,
  sizeLimit: number
) {
  if (sizeLimit <= 0) return
  const stats = yield* step(target, ".", "statfs", () => fs.statfs(target))
  const used = (stats.blocks - stats.bfree) * stats.bsize
  const needed = tmpfsFootprint(payload)
  if (used + needed <= sizeLimit) return
  return yield* new TargetFilesError({
    reason: "FileWriteError",
    target,
    path: ".",
    message:
      `the new version of ${target} (${needed} bytes on the tmpfs) does not fit beside the current version ` +
      `(${used} bytes in use) under --tmpfs-size-limit=${sizeLimit}: kept the current files; a rotation needs room ` +
      "for both versions at once"
  })
})
