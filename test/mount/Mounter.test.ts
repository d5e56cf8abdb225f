// The live Mounter against real tmpfs mounts in a temp root (the tests run as root). The suite
// asserts at the end, from /proc/self/mountinfo, that no mount was left behind under its root.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs/promises"
import { readFileSync, realpathSync } from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { MountError, Mounter, type MounterShape } from "../../src/mount/Mounter.js"
import { parseMountInfo } from "../../src/mount/MountInfo.js"

let root = ""

const mountsUnder = (dir: string): ReadonlyArray<string> =>
  parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8"))
    .map((e) => e.mountPoint)
    .filter((p) => p === dir || p.startsWith(`${dir}/`))

beforeAll(async () => {
  root = realpathSync(await fs.mkdtemp(nodePath.join(os.tmpdir(), "mounter-test-")))
})

afterAll(async () => {
  // Clean the machine even when the assertion below fails.
  const leftovers = forceUnmountUnder(root)
  await fs.rm(root, { recursive: true, force: true })
  assert.deepStrictEqual(leftovers, [], "mounts left behind")
})

const forceUnmountUnder = (dir: string): ReadonlyArray<string> => {
  const found = mountsUnder(dir)
  for (const p of [...found].reverse()) execFileSync("umount", ["-l", p])
  return found
}

/**
 * A fresh directory under the suite root. When the test's scope closes, any mount still under it
 * fails the test (after being removed): a test that keeps a mount on purpose unmounts it itself
 * with `unmountAtEnd`, registered later so that it runs first.
 */
const testDir = (name: string) =>
  Effect.acquireRelease(
    Effect.promise(() => fs.mkdtemp(nodePath.join(root, `${name}-`))),
    (dir) =>
      Effect.suspend(() => {
        const leftovers = forceUnmountUnder(dir)
        return leftovers.length === 0
          ? Effect.void
          : Effect.die(new Error(`mounts left behind: ${leftovers.join(", ")}`))
      })
  )

const unmountAtEnd = (dir: string) => Effect.addFinalizer(() => Effect.sync(() => forceUnmountUnder(dir)))

const mounted = (path: string) => mountsUnder(path).includes(path)

const test = (name: string, body: (m: MounterShape) => Effect.Effect<void, unknown, Scope.Scope>) =>
  it.live(name, () => Effect.scoped(Effect.flatMap(Mounter, body)).pipe(Effect.provide(Mounter.layer)))

describe("Mounter (live, real tmpfs)", () => {
  test("mountState: Missing, Directory, Mounted(tmpfs)", (m) =>
    Effect.gen(function* () {
      const dir = yield* testDir("state")
      const target = nodePath.join(dir, "mount")
      assert.deepStrictEqual(yield* m.mountState(target), { _tag: "Missing" })
      yield* m.ensureDir(target)
      assert.deepStrictEqual(yield* m.mountState(target), { _tag: "Directory" })
      yield* m.mountTmpfs(target)
      const mounted = yield* m.mountState(target)
      assert.deepInclude(mounted, { _tag: "Mounted", fsType: "tmpfs" })
      // The target's mtime rides along: it is what a restarted driver knows of the last write.
      assert.approximately(mounted._tag === "Mounted" ? (mounted.modifiedMillis ?? 0) : 0, Date.now(), 60_000)
      yield* m.unmount(target)
      assert.deepStrictEqual(yield* m.mountState(target), { _tag: "Directory" })
    }))

  test("ensureDir creates parents with mode 0750 and is idempotent", (m) =>
    Effect.gen(function* () {
      const dir = yield* testDir("ensure")
      const target = nodePath.join(dir, "a", "b", "mount")
      yield* m.ensureDir(target)
      yield* m.ensureDir(target)
      const stat = yield* Effect.promise(() => fs.stat(target))
      assert.strictEqual(stat.mode & 0o777, 0o750)
    }))

  test("mountTmpfs then write, unmount, and the file is gone", (m) =>
    Effect.gen(function* () {
      const target = yield* testDir("rw")
      yield* m.mountTmpfs(target)
      assert.isTrue(mounted(target))
      yield* Effect.promise(() => fs.writeFile(nodePath.join(target, "secret"), "s3cr3t"))
      yield* m.unmount(target)
      assert.isFalse(mounted(target))
      assert.deepStrictEqual(yield* Effect.promise(() => fs.readdir(target)), [])
    }))

  test("mountTmpfs on a missing path fails with MountFailed naming the target", (m) =>
    Effect.gen(function* () {
      const dir = yield* testDir("missing")
      const target = nodePath.join(dir, "nope")
      const error = yield* Effect.flip(m.mountTmpfs(target))
      assert.instanceOf(error, MountError)
      assert.strictEqual(error.reason, "MountFailed")
      assert.include(error.message, target)
      assert.isAbove(error.message.length, `mounting tmpfs at ${target} failed: `.length)
    }))

  test("unmount of a plain directory fails with MountFailed", (m) =>
    Effect.gen(function* () {
      const target = yield* testDir("notmounted")
      const error = yield* Effect.flip(m.unmount(target))
      assert.strictEqual(error.reason, "MountFailed")
      assert.include(error.message, target)
    }))

  test("mountTmpfsScoped: a failing scope unmounts what it mounted", (m) =>
    Effect.gen(function* () {
      const target = yield* testDir("scoped-fail")
      const exit = yield* Effect.exit(
        Effect.scoped(
          Effect.gen(function* () {
            assert.strictEqual(yield* m.mountTmpfsScoped(target), "mounted")
            assert.isTrue(mounted(target))
            yield* Effect.promise(() => fs.writeFile(nodePath.join(target, "partial"), "x"))
            return yield* Effect.fail("provider failed")
          })
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.isFalse(mounted(target))
      assert.deepStrictEqual(yield* Effect.promise(() => fs.readdir(target)), [])
    }))

  test("mountTmpfsScoped: an interrupted scope unmounts too", (m) =>
    Effect.gen(function* () {
      const target = yield* testDir("scoped-interrupt")
      const fiber = yield* Effect.forkChild(Effect.scoped(Effect.andThen(m.mountTmpfsScoped(target), Effect.never)))
      while (!mounted(target)) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(fiber)
      assert.isFalse(mounted(target))
    }))

  test("mountTmpfsScoped: a succeeding scope keeps the mount", (m) =>
    Effect.gen(function* () {
      const target = yield* testDir("scoped-ok")
      yield* unmountAtEnd(target)
      const outcome = yield* Effect.scoped(m.mountTmpfsScoped(target))
      assert.strictEqual(outcome, "mounted")
      assert.isTrue(mounted(target))
      assert.deepInclude(yield* m.mountState(target), { _tag: "Mounted", fsType: "tmpfs" })
    }))

  test("mountTmpfsScoped on an already-mounted path leaves the earlier mount on failure", (m) =>
    Effect.gen(function* () {
      const target = yield* testDir("scoped-existing")
      yield* unmountAtEnd(target)
      yield* m.mountTmpfs(target)
      yield* Effect.promise(() => fs.writeFile(nodePath.join(target, "old"), "keep"))
      const exit = yield* Effect.exit(
        Effect.scoped(
          Effect.gen(function* () {
            assert.strictEqual(yield* m.mountTmpfsScoped(target), "alreadyMounted")
            return yield* Effect.fail("republish failed")
          })
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(mountsUnder(target).length, 1)
      assert.strictEqual(yield* Effect.promise(() => fs.readFile(nodePath.join(target, "old"), "utf8")), "keep")
    }))

  test("mountState: the last of stacked mounts wins", (m) =>
    Effect.gen(function* () {
      const target = yield* testDir("stacked")
      yield* unmountAtEnd(target)
      yield* m.mountTmpfs(target)
      execFileSync("mount", ["-t", "ramfs", "ramfs", target])
      assert.deepStrictEqual(yield* m.mountState(target), { _tag: "Mounted", fsType: "ramfs" })
    }))

  test("mountState: an unlistable mount point is unmounted and reported as an error", (m) =>
    Effect.gen(function* () {
      const dir = yield* testDir("corrupt")
      const source = nodePath.join(dir, "source")
      const target = nodePath.join(dir, "target")
      yield* Effect.promise(() => Promise.all([fs.writeFile(source, "x"), fs.writeFile(target, "")]))
      // A file bind-mounted over a file is a mount point that readdir cannot list (ENOTDIR).
      execFileSync("mount", ["--bind", source, target])
      const error = yield* Effect.flip(m.mountState(target))
      assert.strictEqual(error.reason, "MountFailed")
      assert.include(error.message, target)
      assert.isFalse(mounted(target))
    }))

  test("mountState on a plain file fails", (m) =>
    Effect.gen(function* () {
      const dir = yield* testDir("file")
      const target = nodePath.join(dir, "file")
      yield* Effect.promise(() => fs.writeFile(target, ""))
      const error = yield* Effect.flip(m.mountState(target))
      assert.include(error.message, "not a directory")
    }))

  test("cleanupMountPoint removes an atomic-writer layout, unmounts and is idempotent", (m) =>
    Effect.gen(function* () {
      const dir = yield* testDir("cleanup")
      const target = nodePath.join(dir, "mount")
      yield* m.ensureDir(target)
      yield* m.mountTmpfs(target)
      yield* Effect.promise(async () => {
        const data = nodePath.join(target, "..2026_04_29_10_11_12.123456789")
        await fs.mkdir(nodePath.join(data, "dir"), { recursive: true })
        await fs.writeFile(nodePath.join(data, "foo"), "secret")
        await fs.writeFile(nodePath.join(data, "dir", "bar"), "secret")
        await fs.symlink("..2026_04_29_10_11_12.123456789", nodePath.join(target, "..data"))
        await fs.symlink("..data/foo", nodePath.join(target, "foo"))
        await fs.symlink("..data/dir", nodePath.join(target, "dir"))
      })
      yield* m.cleanupMountPoint(target)
      assert.isFalse(mounted(target))
      assert.deepStrictEqual(yield* Effect.promise(() => fs.readdir(dir)), [])
      yield* m.cleanupMountPoint(target)
    }))

  test("cleanupMountPoint unmounts stacked tmpfs mounts; a file hidden underneath stays, with its directory", (m) =>
    Effect.gen(function* () {
      const dir = yield* testDir("cleanup-stacked")
      const target = nodePath.join(dir, "mount")
      yield* m.ensureDir(target)
      yield* Effect.promise(() => fs.writeFile(nodePath.join(target, "underneath"), "x"))
      yield* m.mountTmpfs(target)
      yield* m.mountTmpfs(target)
      assert.strictEqual(mountsUnder(target).length, 2)
      yield* m.cleanupMountPoint(target)
      assert.deepStrictEqual(mountsUnder(target), [])
      // Not this driver's to delete: it was never in a tmpfs of ours.
      assert.deepStrictEqual(yield* Effect.promise(() => fs.readdir(target)), ["underneath"])
    }))

  test("cleanupMountPoint on a missing path succeeds", (m) =>
    Effect.gen(function* () {
      const dir = yield* testDir("cleanup-missing")
      yield* m.cleanupMountPoint(nodePath.join(dir, "never-created", "mount"))
    }))

  test("a target path with spaces works end to end", (m) =>
    Effect.gen(function* () {
      const dir = yield* testDir("with space")
      const target = nodePath.join(dir, "my volume", "mount")
      yield* m.ensureDir(target)
      yield* Effect.scoped(m.mountTmpfsScoped(target))
      assert.isTrue(mounted(target))
      assert.deepInclude(yield* m.mountState(target), { _tag: "Mounted", fsType: "tmpfs" })
      yield* m.cleanupMountPoint(target)
      assert.isFalse(mounted(target))
      assert.deepStrictEqual(yield* m.mountState(target), { _tag: "Missing" })
    }))

  it.live("layerWith: the tmpfs gets --tmpfs-size-limit as size= and nosuid,nodev; the default layer 96 MiB", () =>
    Effect.gen(function* () {
      const sizeOf = (layer: typeof Mounter.layer) =>
        Effect.gen(function* () {
          const m = yield* Mounter
          const target = yield* testDir("limit")
          yield* m.mountTmpfs(target)
          const entry = parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8")).findLast(
            (e) => e.mountPoint === target
          )
          yield* m.unmount(target)
          return { limit: m.tmpfsSizeLimit, options: entry?.mountOptions, superOptions: entry?.superOptions }
        }).pipe(Effect.provide(layer))
      const limited = yield* sizeOf(Mounter.layerWith({ tmpfsSizeLimit: 8192 }))
      assert.strictEqual(limited.limit, 8192)
      assert.include(limited.options, "nosuid,nodev")
      assert.include(limited.superOptions, "size=8k")
      const byDefault = yield* sizeOf(Mounter.layer)
      assert.strictEqual(byDefault.limit, 96 * 1024 * 1024)
      assert.include(byDefault.superOptions, "size=98304k")
    }).pipe(Effect.scoped)
  )
})
