// readTarget never leaves the target: only the writer's own links are followed, every file must be on the target's
// filesystem, and an interrupted read finishes before its fiber is gone (so the tmpfs can be unmounted right after).
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { AtomicWriter } from "../../src/writer/AtomicWriter.js"
import { readTarget } from "../../src/writer/TargetFiles.js"
import { payload, tempDir, tinyTmpfs } from "./fixtures.js"

const io = <A>(f: () => Promise<A>) => Effect.promise(f)
const text = (files: ReadonlyMap<string, { readonly contents: Uint8Array }>) =>
  Object.fromEntries([...files].map(([p, f]) => [p, Buffer.from(f.contents).toString("latin1")]))

/** A target written by the real writer on its own tmpfs, and a secret file elsewhere that must never be read. */
const scene = Effect.gen(function* () {
  const target = yield* tinyTmpfs(4 * 1024 * 1024)
  const elsewhere = yield* tempDir("read-target-victim-")
  yield* io(async () => {
    await fs.mkdir(path.join(elsewhere, "d"))
    await fs.writeFile(path.join(elsewhere, "secret"), "VICTIM")
    await fs.writeFile(path.join(elsewhere, "d", "secret"), "VICTIM")
  })
  const writer = yield* AtomicWriter
  yield* writer.write(target, payload({ a: "1", "d/b": "2" }))
  const dataDir = yield* io(() => fs.readlink(path.join(target, "..data")))
  return { target, elsewhere, dataDir }
}).pipe(Effect.provide(AtomicWriter.layer))

describe("readTarget follows only the writer's links", () => {
  it.live("a planted top-level link (to a file or a directory elsewhere) is skipped; plain files still count", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { target, elsewhere } = yield* scene
        yield* io(async () => {
          await fs.symlink(path.join(elsewhere, "secret"), path.join(target, "x"))
          await fs.symlink(path.join(elsewhere, "d"), path.join(target, "y"))
          await fs.symlink("..data/other", path.join(target, "z"))
          await fs.writeFile(path.join(target, "legacy"), "4")
        })
        assert.deepStrictEqual(text(yield* readTarget(target)), { a: "1", "d/b": "2", legacy: "4" })
      })
    )
  )

  it.live("a link planted inside the data directory is skipped", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { target, elsewhere, dataDir } = yield* scene
        yield* io(() => fs.symlink(path.join(elsewhere, "secret"), path.join(target, dataDir, "d", "s")))
        assert.deepStrictEqual(text(yield* readTarget(target)), { a: "1", "d/b": "2" })
      })
    )
  )

  it.live("a ..data naming a data directory that is itself a link is not followed", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { target, elsewhere } = yield* scene
        const fake = "..2020_01_01_00_00_00.1"
        yield* io(async () => {
          await fs.writeFile(path.join(elsewhere, "a"), "VICTIM")
          await fs.symlink(elsewhere, path.join(target, fake))
          await fs.symlink(fake, path.join(target, "..data_new"))
          await fs.rename(path.join(target, "..data_new"), path.join(target, "..data"))
        })
        assert.deepStrictEqual(text(yield* readTarget(target)), {})
      })
    )
  )

  it.live("a target that is a link is refused (ELOOP)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { target } = yield* scene
        const dir = yield* tempDir("read-target-link-")
        yield* io(() => fs.symlink(target, path.join(dir, "t")))
        const error = yield* Effect.flip(readTarget(path.join(dir, "t")))
        assert.strictEqual(error.reason, "FileWriteError")
        assert.include(error.message, "ELOOP")
      })
    )
  )

  it.live("a directory of the target on another filesystem, or another expected device, is refused (EXDEV)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { target, elsewhere } = yield* scene
        const device = (yield* io(() => fs.lstat(target))).dev
        const other = (yield* io(() => fs.lstat(elsewhere))).dev
        const wrong = yield* Effect.flip(readTarget(target, { device: other }))
        assert.include(wrong.message, "EXDEV")
        assert.deepStrictEqual(text(yield* readTarget(target, { device })), { a: "1", "d/b": "2" })
        // Another filesystem mounted on a directory of the data dir: what a swapped element would reach.
        const nested = path.join(target, yield* io(() => fs.readlink(path.join(target, "..data"))), "d")
        yield* Effect.acquireRelease(
          Effect.sync(() => execFileSync("mount", ["-t", "tmpfs", "tmpfs", nested])),
          () => Effect.sync(() => execFileSync("umount", [nested]))
        )
        yield* io(() => fs.writeFile(path.join(nested, "b"), "VICTIM"))
        const crossed = yield* Effect.flip(readTarget(target))
        assert.strictEqual(crossed.path, path.relative(target, nested))
        assert.include(crossed.message, "EXDEV")
        assert.notInclude(crossed.message, "VICTIM")
      })
    )
  )
})

/** Whether this process has a file under `dir` open now. */
const holdsFileUnder = async (dir: string): Promise<boolean> => {
  for (const fd of await fs.readdir("/proc/self/fd")) {
    const link = await fs.readlink(`/proc/self/fd/${fd}`).catch(() => "")
    if (link.startsWith(`${dir}/`)) return true
  }
  return false
}

/** Forks reads of `target` until one is caught with a file open (each read takes a while); returns that fiber. */
const readCaughtMidway = (target: string) =>
  Effect.gen(function* () {
    for (let attempt = 0; attempt < 50; attempt++) {
      const fiber = yield* Effect.forkChild(readTarget(target))
      while (fiber.pollUnsafe() === undefined) {
        if (yield* io(() => holdsFileUnder(target))) return fiber
      }
    }
    return yield* Effect.die(new Error("no read was ever caught with a file open"))
  })

describe("readTarget and interruption", () => {
  it.live("an interrupted read has closed every file when the interrupt returns: the tmpfs unmounts at once", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const target = yield* tempDir("read-target-interrupt-")
        // Detached lazily at the end only if the unmount under test failed (so the temp dir removal stays outside it).
        yield* Effect.acquireRelease(
          Effect.sync(() => execFileSync("mount", ["-t", "tmpfs", "-o", "size=96m", "tmpfs", target])),
          () =>
            Effect.sync(() => {
              if (spawnSync("mountpoint", ["-q", target]).status === 0) execFileSync("umount", ["-l", target])
            })
        )
        const chunk = Buffer.alloc(64 * 1024, 7)
        yield* io(async () => {
          for (let i = 0; i < 400; i++) await fs.writeFile(path.join(target, `f${String(i).padStart(4, "0")}`), chunk)
        })
        const fiber = yield* readCaughtMidway(target)
        yield* Fiber.interrupt(fiber)
        // A read left running in the background would go on opening the files one after another for a while.
        for (let look = 0; look < 20; look++) {
          assert.isFalse(yield* io(() => holdsFileUnder(target)), "a file is still open")
        }
        // Not lazily, not retried: a file still open would make this fail with "target is busy".
        execFileSync("umount", [target], { stdio: "pipe" })
      })
    )
  )
})
