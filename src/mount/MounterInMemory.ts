// The Mounter's in-memory twin: mount state kept in a map, directories real on disk so a writer can write into them,
// and the MounterInMemory handle tests inspect it with. Unmounting the last layer empties the directory, as a real
// tmpfs's contents vanish with it.
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { DEFAULT_TMPFS_SIZE_LIMIT, mountFailed } from "./MountCalls.js"
import { ensureDir, fsCall, makeMountTmpfsScoped, type MounterShape, type MountState } from "./Mounter.js"

/**
 * The in-memory twin's control surface. A test gets at it by yielding the service:
 * `const mounts = yield* MounterInMemory` under `Mounter.layerInMemory` (which provides both).
 */
export interface MounterInMemoryShape {
  /** Absolute paths currently "mounted" (stacked mounts listed once). */
  readonly mounted: Effect.Effect<ReadonlySet<string>>
  /** Successful mountTmpfs calls so far (republish tests assert it did not grow). */
  readonly mountCount: Effect.Effect<number>
  /** Makes the next mountTmpfs fail with a MountError carrying this message. */
  readonly failNextMount: (message?: string) => Effect.Effect<void>
}

export class MounterInMemory extends Context.Service<MounterInMemory, MounterInMemoryShape>()("MounterInMemory") {}

/** The twin's Mounter and its control handle, sharing one map of stacked mounts. */
export const makeInMemoryState = () => {
  const stacks = new Map<string, number>()
  let mounts = 0
  let nextFailure: string | undefined
  const key = (path: string) => nodePath.resolve(path)

  const memMountState = Effect.fn("Mounter.mountState")(function* (path: string) {
    const stat = yield* Effect.tryPromise(() => fs.stat(path)).pipe(Effect.option)
    if (Option.isNone(stat)) return { _tag: "Missing" } as MountState
    if (stacks.has(key(path))) return { _tag: "Mounted", fsType: "tmpfs" } as MountState
    if (!stat.value.isDirectory())
      return yield* Effect.fail(mountFailed(`target path ${path} exists and is not a directory`))
    return { _tag: "Directory" } as MountState
  })
  const memMountTmpfs = Effect.fn("Mounter.mountTmpfs")(function* (path: string) {
    const failure = nextFailure
    nextFailure = undefined
    if (failure !== undefined) return yield* Effect.fail(mountFailed(`mounting tmpfs at ${path} failed: ${failure}`))
    const stat = yield* Effect.tryPromise(() => fs.stat(path)).pipe(Effect.option)
    if (Option.isNone(stat) || !stat.value.isDirectory()) {
      return yield* Effect.fail(mountFailed(`mounting tmpfs at ${path} failed: mount point does not exist`))
    }
    stacks.set(key(path), (stacks.get(key(path)) ?? 0) + 1)
    mounts++
  })
  const memUnmount = Effect.fn("Mounter.unmount")(function* (path: string) {
    const depth = stacks.get(key(path))
    if (depth === undefined) return yield* Effect.fail(mountFailed(`unmounting ${path} failed: not mounted`))
    if (depth > 1) return void stacks.set(key(path), depth - 1)
    stacks.delete(key(path))
    yield* emptyDir(path)
  })
  const memCleanup = Effect.fn("Mounter.cleanupMountPoint")(function* (path: string) {
    stacks.delete(key(path))
    yield* fsCall("removing target", path, () => fs.rm(path, { recursive: true, force: true }))
  })
  // A "mounted" directory's own device: real on disk, so a reader's same-filesystem check still holds.
  const memTmpfsDevice = Effect.fn("Mounter.tmpfsDevice")(function* (path: string) {
    if (!stacks.has(key(path))) return Option.none<number>()
    const stat = yield* Effect.option(Effect.tryPromise(() => fs.lstat(path)))
    return Option.map(
      Option.filter(stat, (s) => s.isDirectory()),
      (s) => s.dev
    )
  })
  const mounter: MounterShape = {
    mountState: memMountState,
    ensureDir,
    // Not enforced in memory; the publish path checks payloads against it all the same.
    tmpfsSizeLimit: DEFAULT_TMPFS_SIZE_LIMIT,
    mountTmpfs: memMountTmpfs,
    mountTmpfsScoped: makeMountTmpfsScoped({
      mountState: memMountState,
      mountTmpfs: memMountTmpfs,
      unmount: memUnmount,
      unmountLazy: memUnmount
    }),
    unmount: memUnmount,
    cleanupMountPoint: memCleanup,
    tmpfsDevice: memTmpfsDevice
  }
  const control: MounterInMemoryShape = {
    mounted: Effect.sync(() => new Set(stacks.keys())),
    mountCount: Effect.sync(() => mounts),
    failNextMount: (message = "injected mount failure") => Effect.sync(() => void (nextFailure = message))
  }
  return { mounter, control }
}

const emptyDir = (path: string) =>
  fsCall("listing", path, () => fs.readdir(path)).pipe(
    Effect.flatMap((names) =>
      Effect.forEach(
        names,
        (name) => fsCall("removing", path, () => fs.rm(nodePath.join(path, name), { recursive: true, force: true })),
        {
          discard: true
        }
      )
    )
  )
