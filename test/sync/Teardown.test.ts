// The sync fixtures' teardown: a mount still busy when the test ends (a reader finishing late) is retried, a mount
// busy for good is detached lazily, and every other mount is unmounted anyway; nothing is left mounted.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { mountsUnder, tempRoot, unmountAll } from "./fixtures.js"

const mountTmpfs = (dir: string) => {
  execFileSync("mount", ["-t", "tmpfs", "tmpfs", dir])
  return dir
}

/** Two tmpfs under `root`, the deeper one with a file held open; returns the open handle. */
const busyPair = (root: string) =>
  Effect.promise(async () => {
    const outer = nodePath.join(root, "a")
    await fs.mkdir(outer)
    mountTmpfs(outer)
    const inner = nodePath.join(outer, "pods", "uid", "mount")
    await fs.mkdir(inner, { recursive: true })
    mountTmpfs(inner)
    await fs.writeFile(nodePath.join(inner, "f"), "x")
    return { outer, inner, handle: await fs.open(nodePath.join(inner, "f")) }
  })

/** Whatever a failed run leaves mounted under `dir` is detached, so one failure does not leak into other tests. */
const detachLeftovers = (dir: string) => {
  if (dir !== "") for (const mount of mountsUnder(dir)) execFileSync("umount", ["-l", mount])
}

describe("sync fixtures teardown", () => {
  it.live("a mount busy at teardown is retried until its reader is done; every mount goes, then the directory", () =>
    Effect.gen(function* () {
      let root = ""
      const exit = yield* Effect.exit(
        Effect.scoped(
          Effect.gen(function* () {
            root = yield* tempRoot
            const { handle } = yield* busyPair(root)
            // The reader finishes a little after the test body: the first unmount attempts find the mount busy.
            setTimeout(() => void handle.close(), 300)
          })
        )
      )
      detachLeftovers(root)
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      assert.deepStrictEqual(mountsUnder(root), [])
      assert.isFalse(
        yield* Effect.promise(() =>
          fs.access(root).then(
            () => true,
            () => false
          )
        )
      )
    })
  )

  it.live("unmountAll: a mount busy for good is detached lazily, and the others are still unmounted", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const root = yield* Effect.acquireRelease(
          Effect.promise(() => fs.mkdtemp("/tmp/sync-teardown-")),
          (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
        )
        yield* Effect.addFinalizer(() => Effect.sync(() => detachLeftovers(root)))
        const { outer, inner, handle } = yield* busyPair(root)
        const report = yield* Effect.promise(() => unmountAll(root, 200))
        yield* Effect.promise(() => handle.close())
        assert.deepStrictEqual(Object.fromEntries(report), { [inner]: "lazy", [outer]: "unmounted" })
        assert.deepStrictEqual(mountsUnder(root), [])
      })
    )
  )
})
