// The live AtomicWriter on real directories: upstream's `..data` layout, exact modes, rewrite only on
// changed bytes, in-place chmod, removals, healing of legacy files and crash leftovers, and failure
// atomicity on a full tmpfs.
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { AtomicWriter } from "../../src/writer/AtomicWriter.js"
import { dataDirOf, listing, modeOf, payload, tempDir, tinyTmpfs, visible } from "./fixtures.js"

const DATA_DIR = /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$/

const withWriter = <A, E, R>(body: Effect.Effect<A, E, R>) => body.pipe(Effect.provide(AtomicWriter.layer))
const io = <A>(f: () => Promise<A>) => Effect.promise(f)

describe("AtomicWriter (live)", () => {
  it.live("first write: ..data -> data dir, one link per top-level name, exact modes", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        const writer = yield* AtomicWriter
        const outcome = yield* writer.write(
          target,
          payload({
            "a.txt": "A",
            secret: ["S", 0o600],
            zero: ["Z", 0o000],
            "dir/b.txt": ["B", 0o640],
            "dir/deeper/c": ["C", 0o444]
          })
        )
        assert.isTrue(outcome.changed && outcome.swapped)
        assert.deepStrictEqual([...outcome.written].sort(), ["a.txt", "dir/b.txt", "dir/deeper/c", "secret", "zero"])
        const dataDir = yield* io(() => dataDirOf(target))
        assert.match(dataDir, DATA_DIR)
        const entries = yield* io(() => listing(target))
        assert.deepStrictEqual(
          Object.keys(entries)
            .filter((k) => !k.includes("/"))
            .sort(),
          [dataDir, "..data", "a.txt", "dir", "secret", "zero"].sort()
        )
        for (const name of ["a.txt", "dir", "secret", "zero"]) {
          assert.deepInclude(entries[name], { kind: "link", link: `..data/${name}` })
        }
        assert.deepInclude(entries[dataDir], { kind: "dir", mode: 0o755 })
        assert.deepInclude(entries[`${dataDir}/dir`], { kind: "dir", mode: 0o755 })
        assert.deepInclude(entries[`${dataDir}/dir/deeper`], { kind: "dir", mode: 0o755 })
        assert.deepStrictEqual(yield* io(() => visible(target)), {
          "a.txt": ["A", 0o644],
          "dir/b.txt": ["B", 0o640],
          "dir/deeper/c": ["C", 0o444],
          secret: ["S", 0o600],
          zero: ["Z", 0o000]
        })
      })
    )
  )

  it.live("modes and directories ignore the process umask", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        const previous = yield* Effect.acquireRelease(
          Effect.sync(() => process.umask(0o077)),
          (old) => Effect.sync(() => process.umask(old))
        )
        assert.isNumber(previous)
        yield* (yield* AtomicWriter).write(target, payload({ "d/f": ["x", 0o664], g: ["y", 0o777] }))
        const dataDir = yield* io(() => dataDirOf(target))
        assert.strictEqual(yield* io(() => modeOf(path.join(target, dataDir))), 0o755)
        assert.strictEqual(yield* io(() => modeOf(path.join(target, dataDir, "d"))), 0o755)
        assert.deepStrictEqual(yield* io(() => visible(target)), { "d/f": ["x", 0o664], g: ["y", 0o777] })
      })
    )
  )

  it.effect("the data dir is named from the Clock, in UTC", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        yield* TestClock.setTime(Date.UTC(2026, 3, 29, 10, 11, 12, 345))
        yield* (yield* AtomicWriter).write(target, payload({ a: "1" }))
        const dataDir = yield* io(() => dataDirOf(target))
        assert.match(dataDir, /^\.\.2026_04_29_10_11_12\.\d+$/)
      })
    )
  )

  it.live("changed bytes: a new data dir is swapped in and the old one deleted", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        const writer = yield* AtomicWriter
        yield* writer.write(target, payload({ a: "1", b: "2" }))
        const before = yield* io(() => dataDirOf(target))
        const outcome = yield* writer.write(target, payload({ a: "1", b: "22" }))
        assert.deepInclude(outcome, { changed: true, swapped: true, written: ["b"], removed: [], chmodded: [] })
        const after = yield* io(() => dataDirOf(target))
        assert.notStrictEqual(after, before)
        assert.deepStrictEqual((yield* io(() => fs.readdir(target))).sort(), ["..data", after, "a", "b"].sort())
        assert.deepStrictEqual(yield* io(() => visible(target)), { a: ["1", 0o644], b: ["22", 0o644] })
      })
    )
  )

  it.live("unchanged bytes and modes: nothing is touched", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        const writer = yield* AtomicWriter
        yield* writer.write(target, payload({ a: "1", "d/b": ["2", 0o600] }))
        const before = yield* io(() => listing(target))
        const outcome = yield* writer.write(target, payload({ "d/b": ["2", 0o600], a: "1" }))
        assert.deepStrictEqual(outcome, {
          changed: false,
          swapped: false,
          written: [],
          chmodded: [],
          removed: [],
          regrouped: [],
          healed: []
        })
        assert.deepStrictEqual(yield* io(() => listing(target)), before)
      })
    )
  )

  it.live("mode-only change: chmod in place, same data dir and inode", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        const writer = yield* AtomicWriter
        yield* writer.write(target, payload({ a: ["1", 0o644], b: ["2", 0o644] }))
        const before = yield* io(() => listing(target))
        const dataDir = yield* io(() => dataDirOf(target))
        const outcome = yield* writer.write(target, payload({ a: ["1", 0o400], b: ["2", 0o644] }))
        assert.deepInclude(outcome, { changed: true, swapped: false, chmodded: ["a"], written: [] })
        const after = yield* io(() => listing(target))
        assert.strictEqual(yield* io(() => dataDirOf(target)), dataDir)
        assert.deepStrictEqual(after[`${dataDir}/a`], { ...before[`${dataDir}/a`]!, mode: 0o400 })
        assert.deepStrictEqual({ ...after, [`${dataDir}/a`]: null }, { ...before, [`${dataDir}/a`]: null })
      })
    )
  )

  it.live("removed entries disappear, top-level links included", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        const writer = yield* AtomicWriter
        yield* writer.write(target, payload({ a: "1", c: "3", "dir/b": "2", "dir/e": "4" }))
        const outcome = yield* writer.write(target, payload({ a: "1", "dir/e": "4" }))
        assert.deepInclude(outcome, { changed: true, swapped: true, written: [], removed: ["c", "dir/b"] })
        const dataDir = yield* io(() => dataDirOf(target))
        assert.deepStrictEqual((yield* io(() => fs.readdir(target))).sort(), ["..data", dataDir, "a", "dir"].sort())
        assert.deepStrictEqual(yield* io(() => visible(target)), { a: ["1", 0o644], "dir/e": ["4", 0o644] })
        const emptied = yield* writer.write(target, payload({}))
        assert.deepStrictEqual(emptied.removed, ["a", "dir/e"])
        const last = yield* io(() => dataDirOf(target))
        assert.deepStrictEqual((yield* io(() => fs.readdir(target))).sort(), ["..data", last].sort())
        assert.deepStrictEqual(yield* io(() => fs.readdir(path.join(target, last))), [])
      })
    )
  )

  it.live("zero files on a fresh target: an empty ..data", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        const outcome = yield* (yield* AtomicWriter).write(target, payload({}))
        assert.deepInclude(outcome, { changed: false, swapped: true })
        const dataDir = yield* io(() => dataDirOf(target))
        assert.deepStrictEqual((yield* io(() => fs.readdir(target))).sort(), ["..data", dataDir].sort())
        assert.deepStrictEqual(yield* io(() => fs.readdir(path.join(target, "..data"))), [])
      })
    )
  )

  it.live("legacy files colliding with a top-level name are replaced; entries the payload lacks are removed", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        yield* io(async () => {
          await fs.writeFile(path.join(target, "a"), "legacy")
          await fs.mkdir(path.join(target, "d"))
          await fs.writeFile(path.join(target, "d", "old"), "legacy")
          await fs.writeFile(path.join(target, "gone"), "legacy")
          await fs.symlink("/etc", path.join(target, "e"))
        })
        const outcome = yield* (yield* AtomicWriter).write(target, payload({ a: "new", "d/x": "new", e: "new" }))
        assert.deepStrictEqual([...outcome.healed].sort(), ["a", "d", "e", "gone"])
        assert.deepStrictEqual(yield* io(() => visible(target)), {
          a: ["new", 0o644],
          "d/x": ["new", 0o644],
          e: ["new", 0o644]
        })
      })
    )
  )

  it.live("an empty payload (a legacy provider that writes its own files) leaves the provider's files alone", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        yield* io(() => fs.writeFile(path.join(target, "own"), "written by the provider"))
        const outcome = yield* (yield* AtomicWriter).write(target, payload({}))
        assert.deepStrictEqual(outcome.healed, [])
        assert.deepStrictEqual(yield* io(() => visible(target)), { own: ["written by the provider", 0o644] })
      })
    )
  )

  it.live("a legacy file over unchanged content is healed without a swap, and reported as a change", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        const writer = yield* AtomicWriter
        yield* writer.write(target, payload({ a: "1" }))
        const dataDir = yield* io(() => dataDirOf(target))
        yield* io(async () => {
          await fs.rm(path.join(target, "a"))
          await fs.writeFile(path.join(target, "a"), "legacy")
        })
        const outcome = yield* writer.write(target, payload({ a: "1" }))
        assert.deepInclude(outcome, { changed: true, swapped: false, healed: ["a"] })
        assert.strictEqual(yield* io(() => dataDirOf(target)), dataDir)
        assert.deepStrictEqual(yield* io(() => visible(target)), { a: ["1", 0o644] })
      })
    )
  )

  it.live("crash leftovers are removed: orphan data dirs, ..data_tmp, stale links", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        const writer = yield* AtomicWriter
        yield* writer.write(target, payload({ a: "1" }))
        const dataDir = yield* io(() => dataDirOf(target))
        const orphan = "..2020_01_01_00_00_00.123"
        yield* io(async () => {
          await fs.mkdir(path.join(target, orphan, "sub"), { recursive: true })
          await fs.writeFile(path.join(target, orphan, "sub", "f"), "half-written")
          await fs.symlink(orphan, path.join(target, "..data_tmp"))
          await fs.symlink("..data/gone", path.join(target, "gone"))
        })
        const outcome = yield* writer.write(target, payload({ a: "1" }))
        assert.deepStrictEqual([...outcome.healed].sort(), [orphan, "..data_tmp"].sort())
        assert.strictEqual(yield* io(() => dataDirOf(target)), dataDir)
        assert.deepStrictEqual((yield* io(() => fs.readdir(target))).sort(), ["..data", dataDir, "a"].sort())
      })
    )
  )

  it.live("a ..data that is not a link is replaced by one", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        yield* io(() => fs.mkdir(path.join(target, "..data")))
        const outcome = yield* (yield* AtomicWriter).write(target, payload({ a: "1" }))
        assert.deepStrictEqual(outcome.healed, ["..data"])
        assert.match(yield* io(() => dataDirOf(target)), DATA_DIR)
        assert.deepStrictEqual(yield* io(() => visible(target)), { a: ["1", 0o644] })
      })
    )
  )

  it.live("a missing target fails with FileWriteError naming it", () =>
    withWriter(
      Effect.gen(function* () {
        const root = yield* tempDir()
        const target = path.join(root, "absent")
        const error = yield* Effect.flip((yield* AtomicWriter).write(target, payload({ a: "1" })))
        assert.strictEqual(error._tag, "TargetFilesError")
        assert.strictEqual(error.reason, "FileWriteError")
        assert.strictEqual(error.target, target)
        assert.include(error.message, target)
        assert.include(error.message, "ENOENT")
        assert.deepStrictEqual(yield* io(() => fs.readdir(root)), [])
      })
    )
  )

  it.live("a write that runs out of space fails and leaves the previous version intact", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tinyTmpfs(256 * 1024)
        const writer = yield* AtomicWriter
        yield* writer.write(target, payload({ a: "old", "d/b": "old" }))
        const before = yield* io(() => listing(target))
        const big = "x".repeat(1024 * 1024)
        const error = yield* Effect.flip(writer.write(target, payload({ a: "new", "d/b": big, n: "new" })))
        assert.strictEqual(error.reason, "FileWriteError")
        assert.include(["a", "d/b", "n"], error.path) // files are written concurrently: any may hit ENOSPC first
        assert.include(error.message, "ENOSPC")
        assert.notInclude(error.message, "xxxx")
        assert.deepStrictEqual(yield* io(() => listing(target)), before)
      })
    )
  )
})

describe("readTarget", () => {
  it.live("visible files by relative path, through the links, skipping .. names", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* tempDir()
        const writer = yield* AtomicWriter
        yield* writer.write(target, payload({ a: ["1", 0o600], "d/b": "2", "d/e/f": ["3", 0o400] }))
        yield* io(() => fs.writeFile(path.join(target, "legacy"), "4"))
        const files = yield* writer.read(target)
        const text = (p: string) => new TextDecoder().decode(files.get(p)!.contents)
        assert.deepStrictEqual([...files.keys()], ["a", "d/b", "d/e/f", "legacy"])
        assert.deepStrictEqual([text("a"), text("d/b"), text("d/e/f"), text("legacy")], ["1", "2", "3", "4"])
        assert.deepStrictEqual(
          [...files.values()].map((f) => f.mode),
          [0o600, 0o644, 0o400, 0o644]
        )
      })
    )
  )

  it.live("a missing target fails with a typed error", () =>
    withWriter(
      Effect.gen(function* () {
        const root = yield* tempDir()
        const error = yield* Effect.flip((yield* AtomicWriter).read(path.join(root, "absent")))
        assert.strictEqual(error._tag, "TargetFilesError")
        assert.strictEqual(error.reason, "FileWriteError")
      })
    )
  )
})
