// The mount group and foreign entries on a real tmpfs, as the driver mounts it: files read by a process running as
// uid 1000 in the group, refused without it; a changed group is a new version; whatever else appears in the volume
// is gone after the next write, and a link planted there is never followed.
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { mountCalls } from "../../src/mount/MountCalls.js"
import { AtomicWriter } from "../../src/writer/AtomicWriter.js"
import { groupFileMode } from "../../src/writer/Ownership.js"
import { tmpfsFootprint } from "../../src/writer/Payload.js"
import { payload, tempDir } from "./fixtures.js"
import { readAs } from "../support/RunAs.js"

const withWriter = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(AtomicWriter.layer), Effect.scoped)

const io = <A>(run: () => Promise<A>) => Effect.promise(run)

/** A tmpfs mounted as the driver mounts a volume (nosuid, nodev, root 0755, 1 MiB), unmounted with the scope. */
const volumeOf = (sizeBytes: number) =>
  Effect.gen(function* () {
    const dir = yield* tempDir("ownership-")
    return yield* Effect.acquireRelease(Effect.as(Effect.orDie(mountCalls.mountTmpfs(dir, { sizeBytes })), dir), () =>
      Effect.orDie(mountCalls.unmount(dir))
    )
  })
const volume = volumeOf(1 << 20)

interface Owned {
  readonly kind: "file" | "dir"
  readonly mode: number
  readonly gid: number
}

/** Every file and directory of the current data dir ("" the data dir itself): kind, mode and group. */
const ownership = async (target: string): Promise<Record<string, Owned>> => {
  const dataDir = path.join(target, await fs.readlink(path.join(target, "..data")))
  const out: Record<string, Owned> = {}
  const walk = async (abs: string, rel: string): Promise<void> => {
    const st = await fs.lstat(abs)
    out[rel] = { kind: st.isDirectory() ? "dir" : "file", mode: st.mode & 0o7777, gid: st.gid }
    if (st.isDirectory()) {
      for (const name of (await fs.readdir(abs)).sort()) await walk(path.join(abs, name), rel ? `${rel}/${name}` : name)
    }
  }
  await walk(dataDir, "")
  return out
}

const spec = {
  "a.txt": ["A", 0o600],
  pub: ["P", 0o644],
  "bin/run": ["R", 0o700],
  "d/e/shared": ["S", 0o660]
} as const

describe("group file modes", () => {
  it("mirror the owner bits without write", () => {
    assert.deepStrictEqual(
      [0o600, 0o644, 0o700, 0o660, 0o400, 0o000, 0o777, 0o604].map(groupFileMode),
      [0o640, 0o644, 0o750, 0o640, 0o440, 0o000, 0o757, 0o644]
    )
  })
})

describe("AtomicWriter with a mount group (real tmpfs)", () => {
  it.live("gid 2000 on every file and directory, group-readable modes; read as 1000:2000, refused without", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* volume
        yield* (yield* AtomicWriter).write(target, payload(spec), { group: 2000 })
        assert.deepStrictEqual(yield* io(() => ownership(target)), {
          "": { kind: "dir", mode: 0o750, gid: 2000 },
          "a.txt": { kind: "file", mode: 0o640, gid: 2000 },
          bin: { kind: "dir", mode: 0o750, gid: 2000 },
          "bin/run": { kind: "file", mode: 0o750, gid: 2000 },
          d: { kind: "dir", mode: 0o750, gid: 2000 },
          "d/e": { kind: "dir", mode: 0o750, gid: 2000 },
          "d/e/shared": { kind: "file", mode: 0o640, gid: 2000 },
          pub: { kind: "file", mode: 0o644, gid: 2000 }
        })
        for (const [file, text] of [
          ["a.txt", "A"],
          ["pub", "P"],
          ["bin/run", "R"],
          ["d/e/shared", "S"]
        ] as const) {
          assert.strictEqual(readAs(2000, path.join(target, file)), text, file)
          assert.isUndefined(readAs(3000, path.join(target, file)), `${file} without the group`)
        }
      })
    )
  )

  it.live("without a group: the driver's own group and the provider's modes, as before", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* volume
        yield* (yield* AtomicWriter).write(target, payload(spec))
        const owned = yield* io(() => ownership(target))
        assert.deepStrictEqual(owned[""], { kind: "dir", mode: 0o755, gid: process.getegid!() })
        assert.deepStrictEqual(owned["a.txt"], { kind: "file", mode: 0o600, gid: process.getegid!() })
        assert.deepStrictEqual(owned["d/e/shared"], { kind: "file", mode: 0o660, gid: process.getegid!() })
        assert.strictEqual(readAs(2000, path.join(target, "pub")), "P")
        assert.isUndefined(readAs(2000, path.join(target, "a.txt")))
      })
    )
  )

  it.live("a changed group is a new version: swapped, every entry regrouped, the old data dir gone", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* volume
        const writer = yield* AtomicWriter
        yield* writer.write(target, payload(spec), { group: 2000 })
        const before = yield* io(() => fs.readlink(path.join(target, "..data")))
        const same = yield* writer.write(target, payload(spec), { group: 2000 })
        assert.deepInclude(same, { changed: false, swapped: false, regrouped: [] })
        const outcome = yield* writer.write(target, payload(spec), { group: 3000 })
        assert.deepInclude(outcome, { changed: true, swapped: true, written: [], removed: [] })
        assert.sameMembers([...outcome.regrouped], ["", "bin", "d", "d/e", "a.txt", "pub", "bin/run", "d/e/shared"])
        const after = yield* io(() => fs.readlink(path.join(target, "..data")))
        assert.notStrictEqual(after, before)
        assert.isFalse(
          yield* io(() =>
            fs.access(path.join(target, before)).then(
              () => true,
              () => false
            )
          )
        )
        const owned = yield* io(() => ownership(target))
        assert.isTrue(Object.values(owned).every((o) => o.gid === 3000))
        assert.strictEqual(readAs(3000, path.join(target, "a.txt")), "A")
        assert.isUndefined(readAs(2000, path.join(target, "a.txt")))
        // Back to no group: a new version again, root's group.
        const dropped = yield* writer.write(target, payload(spec))
        assert.isTrue(dropped.swapped)
        const rootOwned = yield* io(() => ownership(target))
        assert.deepStrictEqual(rootOwned[""], { kind: "dir", mode: 0o755, gid: process.getegid!() })
        assert.strictEqual(rootOwned["a.txt"]!.mode, 0o600)
      })
    )
  )

  it.live("a mode change under a group is applied in place with the group bits", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* volume
        const writer = yield* AtomicWriter
        yield* writer.write(target, payload({ a: ["A", 0o600] }), { group: 2000 })
        const outcome = yield* writer.write(target, payload({ a: ["A", 0o700] }), { group: 2000 })
        assert.deepInclude(outcome, { changed: true, swapped: false, chmodded: ["a"] })
        assert.deepStrictEqual((yield* io(() => ownership(target))).a, { kind: "file", mode: 0o750, gid: 2000 })
      })
    )
  )
})

describe("the size estimate against a real tmpfs", () => {
  it.live("a payload whose footprint is exactly the limit fits a fresh tmpfs of that size, with a group", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* volumeOf(16 * 4096)
        const files = Object.fromEntries(
          Array.from({ length: 8 }, (_, i) => [`d${i % 3}/f${i}`, "x".repeat(i % 2 === 0 ? 8192 : 4097)] as const)
        )
        const full = payload(files)
        assert.strictEqual(tmpfsFootprint(full), 16 * 4096)
        yield* (yield* AtomicWriter).write(target, full, { group: 2000 })
        assert.strictEqual(yield* io(() => fs.readFile(path.join(target, "d0", "f0"), "utf8")), "x".repeat(8192))
      })
    )
  )
})

describe("AtomicWriter and entries it did not make (real tmpfs)", () => {
  it.live("a file, a directory and links planted at the top and in the data dir are gone after the next write", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* volume
        const outside = yield* tempDir("ownership-outside-")
        const secret = path.join(outside, "secret")
        yield* io(() => fs.writeFile(secret, "outside", { mode: 0o600 }))
        const writer = yield* AtomicWriter
        yield* writer.write(target, payload({ a: "1", "d/b": "2" }))
        const dataDir = yield* io(() => fs.readlink(path.join(target, "..data")))
        yield* io(async () => {
          await fs.writeFile(path.join(target, "planted"), "x")
          await fs.mkdir(path.join(target, "dir"))
          await fs.symlink(secret, path.join(target, "link"))
          await fs.symlink(outside, path.join(target, "..hidden"))
          await fs.writeFile(path.join(target, dataDir, "extra"), "x")
          await fs.symlink(secret, path.join(target, dataDir, "d", "link"))
          await fs.mkdir(path.join(target, dataDir, "empty"))
        })
        const outcome = yield* writer.write(target, payload({ a: "1", "d/b": "2" }))
        assert.isTrue(outcome.changed)
        assert.isTrue(outcome.swapped)
        assert.sameMembers([...outcome.removed], ["d/link", "empty", "extra"])
        assert.sameMembers([...outcome.healed], ["planted", "dir", "link", "..hidden"])
        const names = (yield* io(() => fs.readdir(target))).sort()
        const current = yield* io(() => fs.readlink(path.join(target, "..data")))
        assert.deepStrictEqual(names, [current, "..data", "a", "d"].sort())
        assert.deepStrictEqual((yield* io(() => fs.readdir(path.join(target, current)))).sort(), ["a", "d"])
        assert.deepStrictEqual(yield* io(() => fs.readdir(path.join(target, current, "d"))), ["b"])
        const st = yield* io(() => fs.stat(secret))
        assert.strictEqual(st.mode & 0o7777, 0o600)
        assert.strictEqual(yield* io(() => fs.readFile(secret, "utf8")), "outside")
        assert.deepStrictEqual(yield* io(() => fs.readdir(outside)), ["secret"])
      })
    )
  )

  it.live("a link planted over a file is never followed: not read, not chmodded, replaced by the new version", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* volume
        const outside = yield* tempDir("ownership-outside-")
        const secret = path.join(outside, "secret")
        yield* io(() => fs.writeFile(secret, "1", { mode: 0o600 }))
        const writer = yield* AtomicWriter
        yield* writer.write(target, payload({ a: ["1", 0o600] }))
        const dataDir = yield* io(() => fs.readlink(path.join(target, "..data")))
        yield* io(async () => {
          await fs.rm(path.join(target, dataDir, "a"))
          await fs.symlink(secret, path.join(target, dataDir, "a"))
        })
        // Same bytes as the link's target, a new mode: a writer that followed the link would chmod the secret.
        const outcome = yield* writer.write(target, payload({ a: ["1", 0o644] }), { group: 2000 })
        assert.isTrue(outcome.swapped)
        assert.strictEqual((yield* io(() => fs.stat(secret))).mode & 0o7777, 0o600)
        assert.strictEqual((yield* io(() => fs.stat(secret))).gid, process.getegid!())
        assert.strictEqual(readAs(2000, path.join(target, "a")), "1")
      })
    )
  )

  it.live("a link named like a data dir, that ..data points to, is not walked into: the directory it names stays", () =>
    withWriter(
      Effect.gen(function* () {
        const target = yield* volume
        const outside = yield* tempDir("ownership-outside-")
        yield* io(() => fs.writeFile(path.join(outside, "a"), "outside", { mode: 0o600 }))
        const fake = "..2020_01_01_00_00_00.1"
        yield* io(async () => {
          await fs.symlink(outside, path.join(target, fake))
          await fs.symlink(fake, path.join(target, "..data"))
        })
        // The same bytes as the file behind the link, another mode: a writer that walked in would chmod it there.
        yield* (yield* AtomicWriter).write(target, payload({ a: ["outside", 0o644] }))
        assert.strictEqual(yield* io(() => fs.readFile(path.join(target, "a"), "utf8")), "outside")
        assert.strictEqual((yield* io(() => fs.stat(path.join(target, "a")))).mode & 0o7777, 0o644)
        assert.strictEqual(yield* io(() => fs.readFile(path.join(outside, "a"), "utf8")), "outside")
        assert.strictEqual((yield* io(() => fs.stat(path.join(outside, "a")))).mode & 0o7777, 0o600)
        assert.deepStrictEqual(yield* io(() => fs.readdir(outside)), ["a"])
        assert.isFalse((yield* io(() => fs.readdir(target))).includes(fake))
      })
    )
  )
})
