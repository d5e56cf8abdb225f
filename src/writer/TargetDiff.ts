// What a payload changes against a target's current data dir (docs/upstream.md#republish-and-rotation): bytes decide
// a rewrite, modes a chmod in place, and paths the old version had but the payload lacks are removed.
import * as Effect from "effect/Effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { ProviderFile } from "../domain/ProviderFile.js"
import { sameBytes, type ValidatedPayload } from "./Payload.js"
import { listFiles } from "./TargetFiles.js"
import { eachBounded } from "./WriteSteps.js"

const SAME = 0
const WRITTEN = 1
const CHMODDED = 2

/**
 * Compares the payload with the current data dir: bytes decide a rewrite, modes a chmod. `chmodded` holds the
 * payload's files (same bytes, new mode), so their modes are at hand.
 */
export const diff = Effect.fn("AtomicWriter.diff")(function* (
  target: string,
  current: string | undefined,
  payload: ValidatedPayload
) {
  const files = payload.files
  const written: Array<string> = []
  const chmodded: Array<ProviderFile> = []
  const removed: Array<string> = []
  if (current === undefined) return { written: files.map((f) => f.path), chmodded, removed }
  const dir = path.join(target, current)
  const old = yield* listFiles(target, dir)
  // One byte per file, by index: the lists below keep the payload's order whatever order the reads finish in.
  const kinds = new Uint8Array(files.length)
  const toRead: Array<number> = []
  files.forEach((file, i) => {
    const prev = old.get(file.path)
    if (prev === undefined || prev.size !== file.contents.byteLength) kinds[i] = WRITTEN
    else toRead.push(i)
  })
  yield* eachBounded(
    target,
    "read",
    toRead,
    (i) => files[i]!.path,
    async (i) => {
      const file = files[i]!
      const bytes = await fs.readFile(path.join(dir, file.path))
      const sameMode = old.get(file.path)!.mode === file.mode
      kinds[i] = !sameBytes(file.contents, bytes) ? WRITTEN : sameMode ? SAME : CHMODDED
    }
  )
  files.forEach((file, i) => {
    if (kinds[i] === WRITTEN) written.push(file.path)
    else if (kinds[i] === CHMODDED) chmodded.push(file)
  })
  for (const p of old.keys()) if (!payload.paths.has(p)) removed.push(p)
  return { written, chmodded, removed: removed.sort() }
})
