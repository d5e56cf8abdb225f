// What the live Mounter must never do, on real mounts: delete into a directory or a mount that is not its tmpfs,
// or leave a tmpfs behind when a rollback finds it busy. Each case is what an unsafe cleanup or rollback did.
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { Mounter } from "../../src/mount/Mounter.js"
import { mountsUnder, unmountAllUnder } from "../support/StressHarness.js"

const root = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "mounter-safety-")))
afterAll(() => {
  unmountAllUnder(root)
  fs.rmSync(root, { recursive: true, force: true })
})

const fresh = (name: string) => fs.mkdtempSync(nodePath.join(root, `${name}-`))
const mounted = (path: string) => mountsUnder(path).some((m) => m.mountPoint === path)
const live = <A, E>(name: string, body: Effect.Effect<A, E, Mounter>) =>
  it.live(name, () => Effect.provide(body, Mounter.layer))

describe("Mounter: unpublish deletes only what was in its tmpfs", () => {
  live(
    "a plain directory with files (a decoy) keeps them",
    Effect.gen(function* () {
      const target = nodePath.join(fresh("decoy"), "mount")
      fs.mkdirSync(target)
      fs.writeFileSync(nodePath.join(target, "precious"), "keep me")
      yield* (yield* Mounter).cleanupMountPoint(target)
      assert.strictEqual(fs.readFileSync(nodePath.join(target, "precious"), "utf8"), "keep me")
    })
  )

  live(
    "a bind mount of a host directory is refused, left mounted, and its files stay",
    Effect.gen(function* () {
      const dir = fresh("bind")
      const host = nodePath.join(dir, "host")
      const target = nodePath.join(dir, "mount")
      fs.mkdirSync(host)
      fs.mkdirSync(target)
      fs.writeFileSync(nodePath.join(host, "host-file"), "keep me")
      // A host directory on a filesystem other than tmpfs (ramfs: /tmp may itself be a tmpfs), bound at the target.
      execFileSync("mount", ["-t", "ramfs", "ramfs", host])
      fs.writeFileSync(nodePath.join(host, "host-file"), "keep me")
      execFileSync("mount", ["--bind", host, target])
      const error = yield* Effect.flip((yield* Mounter).cleanupMountPoint(target))
      assert.strictEqual(error.reason, "MountFailed")
      assert.include(error.message, target)
      assert.include(error.message, "ramfs")
      assert.isTrue(mounted(target))
      assert.strictEqual(fs.readFileSync(nodePath.join(host, "host-file"), "utf8"), "keep me")
    })
  )

  live(
    "a tmpfs is unmounted first, and then only the empty directory is removed",
    Effect.gen(function* () {
      const dir = fresh("tmpfs")
      const target = nodePath.join(dir, "mount")
      const mounter = yield* Mounter
      yield* mounter.ensureDir(target)
      yield* mounter.mountTmpfs(target)
      fs.writeFileSync(nodePath.join(target, "secret"), "s")
      yield* mounter.cleanupMountPoint(target)
      assert.isFalse(mounted(target))
      assert.deepStrictEqual(fs.readdirSync(dir), [])
    })
  )
})

describe("Mounter: a rollback never leaves the tmpfs behind", () => {
  live(
    "a busy tmpfs (a process's cwd inside) is detached lazily, and the caller is told",
    Effect.gen(function* () {
      const target = fresh("busy")
      const mounter = yield* Mounter
      const notes: Array<string> = []
      const child = yield* Effect.acquireRelease(
        Effect.sync(() => ({ process: undefined as ReturnType<typeof spawn> | undefined })),
        (holder) => Effect.sync(() => holder.process?.kill("SIGKILL"))
      )
      const exit = yield* Effect.exit(
        Effect.scoped(
          Effect.gen(function* () {
            assert.strictEqual(
              yield* mounter.mountTmpfsScoped(target, { onRollbackTrouble: (note) => notes.push(note) }),
              "mounted"
            )
            child.process = spawn("sleep", ["600"], { cwd: target, stdio: "ignore" })
            yield* Effect.promise(() => new Promise((resolve) => child.process!.once("spawn", resolve)))
            return yield* Effect.fail("provider failed")
          })
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.isFalse(mounted(target), "the tmpfs is still mounted at the target")
      assert.strictEqual(notes.length, 1)
      assert.include(notes[0], target)
      assert.include(notes[0], "lazily")
    }).pipe(Effect.scoped)
  )
})
