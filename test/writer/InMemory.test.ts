// AtomicWriter.layerInMemory, the stand-in callers use in unit tests: it reports the same outcome shape
// as the live writer, exposes what was written, and can fail the next write without storing anything.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AtomicWriter, AtomicWriterInMemory } from "../../src/writer/AtomicWriter.js"
import { payload } from "./fixtures.js"

const T = "/var/lib/kubelet/pods/p/volumes/kubernetes.io~csi/v/mount"

describe("AtomicWriter.layerInMemory", () => {
  it.effect("stores the last payload per target and reports changes like the live writer", () =>
    Effect.gen(function* () {
      const writer = yield* AtomicWriter
      const memory = yield* AtomicWriterInMemory
      assert.isTrue(Option.isNone(yield* memory.lastWrite(T)))
      const first = payload({ a: "1", "d/b": ["2", 0o600] })
      assert.deepInclude(yield* writer.write(T, first), { changed: true, swapped: true, written: ["a", "d/b"] })
      assert.strictEqual(Option.getOrThrow(yield* memory.lastWrite(`${T}/`)), first)
      assert.deepInclude(yield* writer.write(T, first), { changed: false, swapped: false })
      assert.deepInclude(yield* writer.write(T, payload({ a: "1", "d/b": ["2", 0o400] })), {
        changed: true,
        swapped: false,
        chmodded: ["d/b"]
      })
      assert.deepInclude(yield* writer.write(T, payload({ a: "9" })), {
        changed: true,
        swapped: true,
        written: ["a"],
        removed: ["d/b"]
      })
      const files = yield* writer.read(T)
      assert.deepStrictEqual([...files.keys()], ["a"])
      assert.strictEqual(new TextDecoder().decode(files.get("a")!.contents), "9")
      assert.deepStrictEqual(yield* memory.attempts, [T, T, T, T])
    }).pipe(Effect.provide(AtomicWriter.layerInMemory))
  )

  it.effect("failNextWrite fails exactly one write and keeps the stored payload", () =>
    Effect.gen(function* () {
      const writer = yield* AtomicWriter
      const memory = yield* AtomicWriterInMemory
      const good = payload({ a: "1" })
      yield* writer.write(T, good)
      yield* memory.failNextWrite("disk on fire")
      const error = yield* Effect.flip(writer.write(T, payload({ a: "2" })))
      assert.deepInclude(error, {
        _tag: "TargetFilesError",
        reason: "FileWriteError",
        message: "disk on fire",
        target: T
      })
      assert.strictEqual(Option.getOrThrow(yield* memory.lastWrite(T)), good)
      assert.deepInclude(yield* writer.write(T, payload({ a: "2" })), { changed: true })
      assert.strictEqual((yield* memory.attempts).length, 3)
    }).pipe(Effect.provide(AtomicWriter.layerInMemory))
  )

  it.effect("reading a target never written (or forgotten) fails like a missing directory", () =>
    Effect.gen(function* () {
      const writer = yield* AtomicWriter
      const memory = yield* AtomicWriterInMemory
      yield* writer.write(T, payload({ a: "1" }))
      yield* memory.forget(T)
      const error = yield* Effect.flip(writer.read(T))
      assert.deepInclude(error, { _tag: "TargetFilesError", reason: "FileWriteError", target: T })
      assert.isTrue(Option.isNone(yield* memory.lastWrite(T)))
    }).pipe(Effect.provide(AtomicWriter.layerInMemory))
  )

  it.effect("each layer build starts empty", () =>
    Effect.gen(function* () {
      const memory = yield* AtomicWriterInMemory
      assert.deepStrictEqual(yield* memory.attempts, [])
    }).pipe(Effect.provide(AtomicWriter.layerInMemory))
  )

  it.effect("keeps the write options; a changed group is a swap that regroups what stays", () =>
    Effect.gen(function* () {
      const writer = yield* AtomicWriter
      const memory = yield* AtomicWriterInMemory
      yield* writer.write(T, payload({ a: "1", "d/b": "2" }), { group: 2000 })
      assert.deepStrictEqual(Option.getOrThrow(yield* memory.lastOptions(T)), { group: 2000 })
      assert.deepInclude(yield* writer.write(T, payload({ a: "1", "d/b": "2" }), { group: 2000 }), {
        changed: false,
        regrouped: []
      })
      assert.deepInclude(yield* writer.write(T, payload({ a: "1" }), { group: 3000 }), {
        changed: true,
        swapped: true,
        removed: ["d/b"],
        regrouped: ["", "a"]
      })
    }).pipe(Effect.provide(AtomicWriter.layerInMemory))
  )
})
