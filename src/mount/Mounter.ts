// Mounter: the per-pod tmpfs at a CSI target path: mount-point detection (stat/statfs, /proc/self/mountinfo),
// mounting (MountCalls.ts), the scoped mount that a failed first publish rolls back, and the unpublish cleanup
// (upstream §2.8, §6.4, §6.5).
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { errnoCode } from "../writer/TargetFiles.js"
import { describeCause, mountCalls, type MountError, mountFailed } from "./MountCalls.js"
import { findMountInText, tmpfsMountCheck } from "./MountInfo.js"

export { MountError, mountFailed } from "./MountCalls.js"

export type MountState =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Directory" }
  /** `modifiedMillis`: the target dir's mtime, which every atomic swap of `..data` moves (when cheaply known). */
  | { readonly _tag: "Mounted"; readonly fsType: string; readonly modifiedMillis?: number }

/** What mountTmpfsScoped did: only a tmpfs it mounted itself is rolled back. */
export type ScopedMount = "mounted" | "alreadyMounted"

export interface MounterShape {
  /** Missing, a plain directory, or a mount point (a corrupt mount is unmounted and fails). */
  readonly mountState: (path: string) => Effect.Effect<MountState, MountError>
  /** mkdir -p with mode 0750 (the target mode upstream uses). */
  readonly ensureDir: (path: string) => Effect.Effect<void, MountError>
  readonly mountTmpfs: (path: string) => Effect.Effect<void, MountError>
  /**
   * mountTmpfs whose mount is undone if the scope closes with a failure or an interruption. `known`: the state the
   * caller read under the target's lock, saving a second read.
   */
  readonly mountTmpfsScoped: (path: string, known?: MountState) => Effect.Effect<ScopedMount, MountError, Scope.Scope>
  readonly unmount: (path: string) => Effect.Effect<void, MountError>
  /** Unpublish: empty the target, unmount every stacked mount, remove it. Missing is success. */
  readonly cleanupMountPoint: (path: string) => Effect.Effect<void, MountError>
}

const fsCall = <A>(what: string, path: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => mountFailed(`${what} ${path}: ${describeCause(cause)}`, cause) })

// Stacked mounts and a stale mount that cannot be unmounted must not spin forever.
const maxStackedMounts = 16

const mountEntryAt = (resolved: string) =>
  fsCall("reading mount table for", resolved, () => fs.readFile("/proc/self/mountinfo", "utf8")).pipe(
    Effect.map((text) => findMountInText(text, resolved))
  )

/** realpath, or None when the path does not exist; an unresolvable path (stale mount) falls back to its absolute form. */
const resolvePath = (path: string) =>
  Effect.tryPromise(() => fs.realpath(path)).pipe(
    Effect.map(Option.some),
    Effect.catch((error) =>
      Effect.succeed(errnoCode(error.cause) === "ENOENT" ? Option.none<string>() : Option.some(nodePath.resolve(path)))
    )
  )

const unmount = Effect.fn("Mounter.unmount")(function*(path: string) {
  yield* mountCalls.unmount(path)
})

const mountTmpfs = Effect.fn("Mounter.mountTmpfs")(function*(path: string) {
  yield* mountCalls.mountTmpfs(path)
})

// Upstream §6.5: a mount point that cannot be listed is corrupt; unmount it and fail this call so the
// kubelet retry mounts fresh.
const checkListable = (resolved: string, fsType: string) =>
  Effect.tryPromise(() => fs.readdir(resolved)).pipe(
    Effect.as<MountState>({ _tag: "Mounted", fsType }),
    Effect.catch((error) =>
      unmount(resolved).pipe(
        Effect.flatMap(() =>
          Effect.fail(mountFailed(`target ${resolved} is a corrupt mount point (${describeCause(error.cause)}); unmounted it`, error.cause))
        )
      )
    )
  )

const fastMountCheck = (resolved: string) => fsCall("checking target path", resolved, () => tmpfsMountCheck(resolved))


const mountState = Effect.fn("Mounter.mountState")(function*(path: string) {
  const resolved = yield* resolvePath(path)
  if (Option.isNone(resolved)) return { _tag: "Missing" } as MountState
  // A stat that fails on an existing path is a stale mount: the mount table tells, and checkListable cleans up.
  const fast = yield* Effect.option(fastMountCheck(resolved.value))
  // A tmpfs has no backing store to lose (upstream's corrupt-mount check is for network and FUSE mounts): the
  // stats that just succeeded are proof enough, so the hot path skips the listing.
  if (Option.isSome(fast) && fast.value.tmpfs) {
    return { _tag: "Mounted", fsType: "tmpfs", modifiedMillis: fast.value.modifiedMillis } as MountState
  }
  const entry = yield* mountEntryAt(resolved.value)
  if (Option.isSome(entry)) return yield* checkListable(resolved.value, entry.value.fsType)
  const stat = yield* fsCall("checking target path", path, () => fs.stat(resolved.value))
  if (!stat.isDirectory()) return yield* Effect.fail(mountFailed(`target path ${path} exists and is not a directory`))
  return { _tag: "Directory" } as MountState
})

const ensureDir = Effect.fn("Mounter.ensureDir")(function*(path: string) {
  yield* fsCall("creating target path", path, () => fs.mkdir(path, { recursive: true, mode: 0o750 }))
})

/** Builds the scoped mount from the three primitives, so the in-memory layer shares the rollback rule. */
export const makeMountTmpfsScoped = (
  primitives: Pick<MounterShape, "mountState" | "mountTmpfs" | "unmount">
): MounterShape["mountTmpfsScoped"] =>
  Effect.fn("Mounter.mountTmpfsScoped")(function*(path: string, known?: MountState) {
    // A caller that just read the state under the target's lock passes it: no second look at the mount table.
    const state = known === undefined ? primitives.mountState(path) : Effect.succeed(known)
    return yield* Effect.acquireRelease(
      state.pipe(
        Effect.flatMap((state): Effect.Effect<ScopedMount, MountError> =>
          state._tag === "Mounted" ? Effect.succeed("alreadyMounted") : Effect.as(primitives.mountTmpfs(path), "mounted")
        )
      ),
      (outcome, exit) =>
        outcome === "mounted" && Exit.isFailure(exit)
          ? primitives.unmount(path).pipe(
            Effect.catch((error) => Effect.logWarning("rolling back tmpfs failed", { target: path, error: error.message }))
          )
          : Effect.void
    )
  })

const removeEntries = (path: string) =>
  Effect.gen(function*() {
    const names = yield* fsCall("listing", path, () => fs.readdir(path)).pipe(
      Effect.catch((error) => Effect.as(Effect.logWarning("cleanup: cannot list target", { target: path, error: error.message }), []))
    )
    // Per-entry failures are logged only, like upstream: the final removal decides the outcome.
    yield* Effect.forEach(names, (name) =>
      fsCall("removing", nodePath.join(path, name), () => fs.rm(nodePath.join(path, name), { recursive: true, force: true })).pipe(
        Effect.catch((error) => Effect.logWarning("cleanup: cannot remove entry", { target: path, error: error.message }))
      ), { discard: true })
  })

const unmountAll = (path: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < maxStackedMounts; i++) {
      const resolved = yield* resolvePath(path)
      if (Option.isNone(resolved)) return
      const entry = yield* mountEntryAt(resolved.value)
      if (Option.isNone(entry)) return
      yield* unmount(resolved.value)
    }
    return yield* Effect.fail(mountFailed(`target ${path} is still a mount point after ${maxStackedMounts} unmounts`))
  })

const cleanupMountPoint = Effect.fn("Mounter.cleanupMountPoint")(function*(path: string) {
  const exists = yield* Effect.tryPromise(() => fs.lstat(path)).pipe(
    Effect.as(true),
    Effect.catch((error) =>
      errnoCode(error.cause) === "ENOENT"
        ? Effect.succeed(false)
        : Effect.fail(mountFailed(`checking target ${path}: ${describeCause(error.cause)}`, error.cause))
    )
  )
  if (!exists) return
  yield* removeEntries(path)
  yield* unmountAll(path)
  // Recursive: whatever was written into the directory underneath the tmpfs goes too.
  yield* fsCall("removing target", path, () => fs.rm(path, { recursive: true, force: true }))
})

/**
 * The in-memory twin's control surface. A test gets at it by yielding the service:
 * `const mounts = yield* InMemoryMounts` under `Mounter.layerInMemory` (which provides both).
 */
export interface InMemoryMountsShape {
  /** Absolute paths currently "mounted" (stacked mounts listed once). */
  readonly mounted: Effect.Effect<ReadonlySet<string>>
  /** Successful mountTmpfs calls so far (republish tests assert it did not grow). */
  readonly mountCount: Effect.Effect<number>
  /** Makes the next mountTmpfs fail with a MountError carrying this message. */
  readonly failNextMount: (message?: string) => Effect.Effect<void>
}

export class InMemoryMounts extends Context.Service<InMemoryMounts, InMemoryMountsShape>()("InMemoryMounts") {}

export class Mounter extends Context.Service<Mounter, MounterShape>()("Mounter") {
  static readonly layer: Layer.Layer<Mounter> = Layer.succeed(Mounter, {
    mountState,
    ensureDir,
    mountTmpfs,
    mountTmpfsScoped: makeMountTmpfsScoped({ mountState, mountTmpfs, unmount }),
    unmount,
    cleanupMountPoint
  })

  /**
   * Mount state kept in memory; directories stay real on disk so a writer can write into them.
   * Unmounting the last layer empties the directory, as a real tmpfs's contents vanish with it.
   */
  static readonly layerInMemory: Layer.Layer<Mounter | InMemoryMounts> = Layer.syncContext(() => {
    const state = makeInMemoryState()
    return Context.make(Mounter, state.mounter).pipe(Context.add(InMemoryMounts, state.control))
  })
}

const makeInMemoryState = () => {
  const stacks = new Map<string, number>()
  let mounts = 0
  let nextFailure: string | undefined
  const key = (path: string) => nodePath.resolve(path)

  const memMountState = Effect.fn("Mounter.mountState")(function*(path: string) {
    const stat = yield* Effect.tryPromise(() => fs.stat(path)).pipe(Effect.option)
    if (Option.isNone(stat)) return { _tag: "Missing" } as MountState
    if (stacks.has(key(path))) return { _tag: "Mounted", fsType: "tmpfs" } as MountState
    if (!stat.value.isDirectory()) return yield* Effect.fail(mountFailed(`target path ${path} exists and is not a directory`))
    return { _tag: "Directory" } as MountState
  })
  const memMountTmpfs = Effect.fn("Mounter.mountTmpfs")(function*(path: string) {
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
  const memUnmount = Effect.fn("Mounter.unmount")(function*(path: string) {
    const depth = stacks.get(key(path))
    if (depth === undefined) return yield* Effect.fail(mountFailed(`unmounting ${path} failed: not mounted`))
    if (depth > 1) return void stacks.set(key(path), depth - 1)
    stacks.delete(key(path))
    yield* emptyDir(path)
  })
  const memCleanup = Effect.fn("Mounter.cleanupMountPoint")(function*(path: string) {
    stacks.delete(key(path))
    yield* fsCall("removing target", path, () => fs.rm(path, { recursive: true, force: true }))
  })
  const mounter: MounterShape = {
    mountState: memMountState,
    ensureDir,
    mountTmpfs: memMountTmpfs,
    mountTmpfsScoped: makeMountTmpfsScoped({ mountState: memMountState, mountTmpfs: memMountTmpfs, unmount: memUnmount }),
    unmount: memUnmount,
    cleanupMountPoint: memCleanup
  }
  const control: InMemoryMountsShape = {
    mounted: Effect.sync(() => new Set(stacks.keys())),
    mountCount: Effect.sync(() => mounts),
    failNextMount: (message = "injected mount failure") => Effect.sync(() => void (nextFailure = message))
  }
  return { mounter, control }
}

const emptyDir = (path: string) =>
  fsCall("listing", path, () => fs.readdir(path)).pipe(
    Effect.flatMap((names) =>
      Effect.forEach(names, (name) => fsCall("removing", path, () => fs.rm(nodePath.join(path, name), { recursive: true, force: true })), {
        discard: true
      })
    )
  )
