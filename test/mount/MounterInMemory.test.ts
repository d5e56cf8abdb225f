// The in-memory Mounter that callers' unit tests use: real directories, mount state in memory,
// inspectable through MounterInMemory, with an injectable mount failure.
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { MounterInMemory, Mounter } from "../../src/mount/Mounter.js"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(nodePath.join(os.tmpdir(), "mounter-mem-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

const inMemory = <A, E>(body: Effect.Effect<A, E, Mounter | MounterInMemory | Scope.Scope>) =>
  Effect.scoped(body).pipe(Effect.provide(Mounter.layerInMemory))

describe("Mounter.layerInMemory", () => {
  it.live("tracks mounts in memory while the directory stays real", () =>
    inMemory(
      Effect.gen(function* () {
        const m = yield* Mounter
        const mounts = yield* MounterInMemory
        const target = nodePath.join(yield* tempDir, "mount")
        assert.deepStrictEqual(yield* m.mountState(target), { _tag: "Missing" })
        yield* m.ensureDir(target)
        assert.deepStrictEqual(yield* m.mountState(target), { _tag: "Directory" })
        yield* m.mountTmpfs(target)
        assert.deepStrictEqual(yield* m.mountState(target), { _tag: "Mounted", fsType: "tmpfs" })
        assert.deepStrictEqual([...(yield* mounts.mounted)], [target])
        assert.strictEqual(yield* mounts.mountCount, 1)
        yield* Effect.promise(() => fs.writeFile(nodePath.join(target, "file"), "x"))
        yield* m.unmount(target)
        assert.strictEqual((yield* mounts.mounted).size, 0)
        // Like a real tmpfs, the contents go with the mount.
        assert.deepStrictEqual(yield* Effect.promise(() => fs.readdir(target)), [])
      })
    )
  )

  it.live("failNextMount fails exactly one mount, and a failed scope rolls back", () =>
    inMemory(
      Effect.gen(function* () {
        const m = yield* Mounter
        const mounts = yield* MounterInMemory
        const target = yield* tempDir
        yield* mounts.failNextMount("no space left on device")
        const error = yield* Effect.flip(m.mountTmpfs(target))
        assert.strictEqual(error.reason, "MountFailed")
        assert.include(error.message, target)
        const exit = yield* Effect.exit(Effect.scoped(Effect.andThen(m.mountTmpfsScoped(target), Effect.fail("boom"))))
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual((yield* mounts.mounted).size, 0)
        assert.strictEqual(yield* mounts.mountCount, 1)
      })
    )
  )

  it.live("cleanupMountPoint removes the directory and forgets the mount; missing is success", () =>
    inMemory(
      Effect.gen(function* () {
        const m = yield* Mounter
        const mounts = yield* MounterInMemory
        const target = nodePath.join(yield* tempDir, "mount")
        yield* m.ensureDir(target)
        yield* m.mountTmpfs(target)
        yield* m.cleanupMountPoint(target)
        assert.strictEqual((yield* mounts.mounted).size, 0)
        assert.deepStrictEqual(yield* m.mountState(target), { _tag: "Missing" })
        yield* m.cleanupMountPoint(target)
      })
    )
  )

  it.live("mounting a missing directory fails like mount(8)", () =>
    inMemory(
      Effect.gen(function* () {
        const m = yield* Mounter
        const error = yield* Effect.flip(m.mountTmpfs(nodePath.join(yield* tempDir, "absent")))
        assert.include(error.message, "does not exist")
      })
    )
  )
})
