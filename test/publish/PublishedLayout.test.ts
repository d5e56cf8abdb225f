// The layout check of a no-op republish on real directories: complete only for what the atomic writer leaves, and
// incomplete for each way a crash, a cut-short swap or a foreign tmpfs can leave a target.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { PublishedLayout } from "../../src/publish/PublishedLayout.js"
import { AtomicWriter } from "../../src/writer/AtomicWriter.js"
import { validatePayloadResult } from "../../src/writer/Payload.js"
import * as Result from "effect/Result"

const base = fs.mkdtempSync(path.join(os.tmpdir(), "layout-"))
afterAll(() => fs.rmSync(base, { recursive: true, force: true }))

let n = 0
const bytes = (s: string) => new TextEncoder().encode(s)

/** A target the real writer filled with `a`, `dir/b` and `c`. */
const written = () =>
  Effect.gen(function* () {
    const target = path.join(base, `t${n++}`)
    fs.mkdirSync(target)
    const files = ["a", "dir/b", "c"].map((p) => ({ path: p, contents: bytes(`v-${p}`), mode: 0o644 }))
    const payload = validatePayloadResult(files)
    if (Result.isFailure(payload)) throw new Error("bad payload")
    yield* (yield* AtomicWriter).write(target, payload.success)
    return target
  })

const complete = (target: string) =>
  Effect.gen(function* () {
    return yield* (yield* PublishedLayout).isComplete(target)
  })
const dataDirOf = (target: string) => fs.readlinkSync(path.join(target, "..data"))

const check = (name: string, spoil: (target: string) => void, expected: boolean) =>
  it.live(name, () =>
    Effect.gen(function* () {
      const target = yield* written()
      expect(yield* complete(target)).toBe(true)
      spoil(target)
      expect(yield* complete(target)).toBe(expected)
    }).pipe(Effect.provide([AtomicWriter.layer, PublishedLayout.layer]))
  )

describe("PublishedLayout.isComplete (live)", () => {
  check("what the writer leaves is complete", () => undefined, true)
  check(
    "an empty directory is not",
    (t) => {
      fs.rmSync(t, { recursive: true })
      fs.mkdirSync(t)
    },
    false
  )
  check("a missing target is not", (t) => fs.rmSync(t, { recursive: true }), false)
  check("no ..data link is not", (t) => fs.rmSync(path.join(t, "..data")), false)
  check("a ..data_tmp left by a cut-short swap is not", (t) => fs.symlinkSync(dataDirOf(t), `${t}/..data_tmp`), false)
  check(
    "..data as a directory is not",
    (t) => {
      fs.rmSync(path.join(t, "..data"))
      fs.mkdirSync(path.join(t, "..data"))
    },
    false
  )
  check(
    "..data pointing at a name that is not a data dir is not",
    (t) => {
      fs.mkdirSync(path.join(t, "other"))
      fs.rmSync(path.join(t, "..data"))
      fs.symlinkSync("other", path.join(t, "..data"))
    },
    false
  )
  check(
    "..data pointing at a missing data dir is not",
    (t) => {
      fs.rmSync(path.join(t, "..data"))
      fs.symlinkSync("..2026_01_01_00_00_00.1", path.join(t, "..data"))
    },
    false
  )
  check("a visible link missing is not", (t) => fs.rmSync(path.join(t, "c")), false)
  check("a visible directory link missing is not", (t) => fs.rmSync(path.join(t, "dir")), false)
  check(
    "a visible link pointing elsewhere is not",
    (t) => {
      fs.rmSync(path.join(t, "a"))
      fs.symlinkSync("..data/c", path.join(t, "a"))
    },
    false
  )
  check(
    "a visible name that is a plain file is not",
    (t) => {
      fs.rmSync(path.join(t, "a"))
      fs.writeFileSync(path.join(t, "a"), "legacy")
    },
    false
  )
  check(
    "an orphan data dir beside the current one (a cut-short cleanup) is still complete",
    (t) => fs.mkdirSync(path.join(t, "..2020_01_01_00_00_00.7")),
    true
  )
  check(
    "a stale link of an older version beside the current ones is still complete",
    (t) => {
      fs.symlinkSync("..data/gone", path.join(t, "gone"))
    },
    true
  )
})
