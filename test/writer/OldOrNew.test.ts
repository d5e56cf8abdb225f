// Readers racing a writer see the old version or the new one, never a mix: 200 rewrites alternate
// payloads A and B while readers resolve `..data` once per iteration and read x and y from it.
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { AtomicWriter } from "../../src/writer/AtomicWriter.js"
import { errnoCode } from "../../src/platform/errno.js"
import { payload, tempDir } from "./fixtures.js"

const REWRITES = 200
const A = payload({ x: "A", y: "A" })
const B = payload({ x: "B", y: "B" })

interface Tally {
  pairs: number
  mixed: number
  retried: number
  seen: Set<string>
}

/** One iteration: resolve `..data` once, then read x and y from that directory. */
const readPair = async (target: string): Promise<readonly [string, string] | undefined> => {
  try {
    const dir = await fs.realpath(path.join(target, "..data"))
    const [x, y] = await Promise.all([
      fs.readFile(path.join(dir, "x"), "utf8"),
      fs.readFile(path.join(dir, "y"), "utf8")
    ])
    return [x, y]
  } catch (cause) {
    if (errnoCode(cause) === "ENOENT") return undefined // the old dir was deleted after resolution
    throw cause
  }
}

const readUntil = async (target: string, done: () => boolean, tally: Tally): Promise<void> => {
  while (!done()) {
    const pair = await readPair(target)
    if (pair === undefined) tally.retried++
    else {
      tally.pairs++
      tally.seen.add(pair[0])
      if (pair[0] !== pair[1]) tally.mixed++
    }
  }
}

describe("old-or-new", () => {
  it.live(`${REWRITES} rewrites: every pair read is all A or all B`, () =>
    Effect.gen(function* () {
      const target = yield* tempDir()
      const writer = yield* AtomicWriter
      yield* writer.write(target, A)
      let done = false
      const rewrites = yield* Effect.forEach(
        Array.from({ length: REWRITES }, (_, i) => (i % 2 === 0 ? B : A)),
        (next) => writer.write(target, next).pipe(Effect.tap(() => Effect.yieldNow))
      ).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            done = true
          })
        ),
        Effect.forkChild
      )

      const direct: Tally = { pairs: 0, mixed: 0, retried: 0, seen: new Set() }
      const viaReadTarget: Tally = { pairs: 0, mixed: 0, retried: 0, seen: new Set() }
      const readers = Promise.all([
        readUntil(target, () => done, direct),
        (async () => {
          while (!done) {
            const files = await Effect.runPromise(writer.read(target))
            const [x, y] = ["x", "y"].map((p) => new TextDecoder().decode(files.get(p)!.contents))
            viaReadTarget.pairs++
            viaReadTarget.seen.add(x!)
            if (x !== y) viaReadTarget.mixed++
          }
        })()
      ])
      const outcomes = yield* Fiber.join(rewrites)
      yield* Effect.promise(() => readers)

      assert.isTrue(outcomes.every((o) => o.swapped))
      const stats = `${direct.pairs} pairs, ${direct.retried} retried after the old dir vanished`
      assert.strictEqual(direct.mixed, 0, `mixed pairs: ${direct.mixed} (${stats})`)
      assert.strictEqual(viaReadTarget.mixed, 0, `mixed pairs via readTarget: ${viaReadTarget.mixed}`)
      // The readers really raced the rewrites: they saw both versions.
      assert.deepStrictEqual([...direct.seen].sort(), ["A", "B"], stats)
      assert.deepStrictEqual([...viaReadTarget.seen].sort(), ["A", "B"])
      const dataDir = yield* Effect.promise(() => fs.readlink(path.join(target, "..data")))
      assert.deepStrictEqual(
        (yield* Effect.promise(() => fs.readdir(target))).sort(),
        ["..data", dataDir, "x", "y"].sort()
      )
    }).pipe(Effect.provide(AtomicWriter.layer))
  )
})
