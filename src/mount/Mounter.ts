// Mounter: the per-pod tmpfs at a target path: mount-point detection (docs/upstream.md#mount-point-detection), the
// mount (MountCalls.ts), the scoped mount a failed first publish rolls back, and the unpublish cleanup
// (docs/upstream.md#unpublish): unmount first, only a tmpfs, then rmdir; nothing is deleted recursively.
import type { Stats } from "node:fs"
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { errnoCode } from "../platform/errno.js"
import {
  DEFAULT_TMPFS_SIZE_LIMIT,
  describeCause,
  mountCalls,
  type MountError,
  mountFailed,
  type TmpfsOptions
} from "./MountCalls.js"
import { findMountInText, tmpfsMountCheck, tmpfsMountDevice } from "./MountInfo.js"
import { MounterInMemory, makeInMemoryState } from "./MounterInMemory.js"

export { DEFAULT_TMPFS_SIZE_LIMIT, MountError, mountFailed } from "./MountCalls.js"
export { MounterInMemory, type MounterInMemoryShape } from "./MounterInMemory.js"

export type MountState =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Directory" }
  /** `modifiedMillis`: the target dir's mtime, which every atomic swap of `..data` moves (when cheaply known). */
  | { readonly _tag: "Mounted"; readonly fsType: string; readonly modifiedMillis?: number }

/** What mountTmpfsScoped did: only a tmpfs it mounted itself is rolled back. */
export type ScopedMount = "mounted" | "alreadyMounted"

export interface ScopedMountOptions {
  /** The state the caller read under the target's lock, saving a second read. */
  readonly known?: MountState
  /**
   * Told when the rollback could not simply unmount: the tmpfs was busy and had to be detached lazily, or could
   * not be removed at all. The caller puts it into the failure it reports.
   */
  readonly onRollbackTrouble?: (note: string) => void
}

export interface MounterShape {
  /** Missing, a plain directory, or a mount point (a corrupt mount is unmounted and fails). */
  readonly mountState: (path: string) => Effect.Effect<MountState, MountError>
  /** mkdir -p with mode 0750 (the target mode upstream uses). */
  readonly ensureDir: (path: string) => Effect.Effect<void, MountError>
  /** The `size=` every tmpfs is mounted with, in bytes (`--tmpfs-size-limit`); 0: no limit. */
  readonly tmpfsSizeLimit: number
  /** A tmpfs with `nosuid,nodev`, root mode 0755 and `size=tmpfsSizeLimit` (MountCalls.ts). */
  readonly mountTmpfs: (path: string) => Effect.Effect<void, MountError>
  /** mountTmpfs whose mount is undone (lazily if it is busy) if the scope closes with a failure or an interruption. */
  readonly mountTmpfsScoped: (
    path: string,
    options?: ScopedMountOptions
  ) => Effect.Effect<ScopedMount, MountError, Scope.Scope>
  readonly unmount: (path: string) => Effect.Effect<void, MountError>
  /**
   * Unpublish: unmount every tmpfs stacked at the target (their contents vanish with them), then rmdir the
   * directory. A mount of another filesystem is refused and left alone; a directory that is not empty afterwards
   * is left alone and logged; nothing is ever deleted recursively. Missing is success.
   */
  readonly cleanupMountPoint: (path: string) => Effect.Effect<void, MountError>
  /**
   * The device of the tmpfs mounted at exactly `path`; None when `path` is not the root of a tmpfs mount, is
   * missing or unreadable, or is itself a symlink (never followed). A reader can then insist that every file it
   * reads comes from this filesystem.
   */
  readonly tmpfsDevice: (path: string) => Effect.Effect<Option.Option<number>>
}

export const fsCall = <A>(what: string, path: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => mountFailed(`${what} ${path}: ${describeCause(cause)}`, cause) })

// Stacked mounts and a stale mount that cannot be unmounted must not spin forever.
const maxStackedMounts = 16

const mountEntryAt = (resolved: string) =>
  fsCall("reading mount table for", resolved, () => fs.readFile("/proc/self/mountinfo", "utf8")).pipe(
    Effect.map((text) => findMountInText(text, resolved))
  )

/**
 * realpath, or None when the path does not exist; an unresolvable path (stale mount) falls back to its absolute
 * form.
 */
const resolvePath = (path: string) =>
  Effect.tryPromise(() => fs.realpath(path)).pipe(
    Effect.map(Option.some),
    Effect.catch((error) =>
      Effect.succeed(errnoCode(error.cause) === "ENOENT" ? Option.none<string>() : Option.some(nodePath.resolve(path)))
    )
  )

const unmount = Effect.fn("Mounter.unmount")(function* (path: string) {
  yield* mountCalls.unmount(path)
})

const mountTmpfsWith = (options: TmpfsOptions) =>
  Effect.fn("Mounter.mountTmpfs")(function* (path: string) {
    yield* mountCalls.mountTmpfs(path, options)
  })

// A mount point that cannot be listed is corrupt (docs/upstream.md#mount-point-detection): unmount it and fail this
// call so the kubelet retry mounts fresh.
const checkListable = (resolved: string, fsType: string) =>
  Effect.tryPromise(() => fs.readdir(resolved)).pipe(
    Effect.as<MountState>({ _tag: "Mounted", fsType }),
    Effect.catch((error) =>
      unmount(resolved).pipe(
        Effect.flatMap(() =>
          Effect.fail(
            mountFailed(
              `target ${resolved} is a corrupt mount point (${describeCause(error.cause)}); unmounted it`,
              error.cause
            )
          )
        )
      )
    )
  )

const fastMountCheck = (resolved: string) => fsCall("checking target path", resolved, () => tmpfsMountCheck(resolved))

const mountState = Effect.fn("Mounter.mountState")(function* (path: string) {
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

export const ensureDir = Effect.fn("Mounter.ensureDir")(function* (path: string) {
  yield* fsCall("creating target path", path, () => fs.mkdir(path, { recursive: true, mode: 0o750 }))
})

/**
 * A rollback that must not leave the mount behind: a plain unmount, else (a process holds the tmpfs: its cwd or an
 * open file is inside, EBUSY) a lazy one, which takes the mount off the target at once. The note says what happened
 * when the plain unmount did not do it.
 */
type RollbackPrimitives = Pick<MounterShape, "unmount"> & {
  readonly unmountLazy: (path: string) => Effect.Effect<void, MountError>
}

const rollback = (primitives: RollbackPrimitives, path: string): Effect.Effect<string | undefined> =>
  primitives.unmount(path).pipe(
    Effect.as(undefined),
    Effect.catch((busy) =>
      primitives.unmountLazy(path).pipe(
        Effect.as(`rolling back the tmpfs at ${path}: ${busy.message}; detached it lazily (umount -l)`),
        Effect.catch((error) =>
          Effect.succeed(`rolling back the tmpfs at ${path} failed, it is still mounted: ${error.message}`)
        )
      )
    ),
    Effect.tap((note) => (note === undefined ? Effect.void : Effect.logWarning(note, { target: path })))
  )

/** Builds the scoped mount from the primitives, so the in-memory layer shares the rollback rule. */
export const makeMountTmpfsScoped = (
  primitives: Pick<MounterShape, "mountState" | "mountTmpfs"> & RollbackPrimitives
): MounterShape["mountTmpfsScoped"] =>
  Effect.fn("Mounter.mountTmpfsScoped")(function* (path: string, options: ScopedMountOptions = {}) {
    const state = options.known === undefined ? primitives.mountState(path) : Effect.succeed(options.known)
    return yield* Effect.acquireRelease(
      state.pipe(
        Effect.flatMap(
          (state): Effect.Effect<ScopedMount, MountError> =>
            state._tag === "Mounted"
              ? Effect.succeed("alreadyMounted")
              : Effect.as(primitives.mountTmpfs(path), "mounted")
        )
      ),
      (outcome, exit) =>
        outcome === "mounted" && Exit.isFailure(exit)
          ? rollback(primitives, path).pipe(
              Effect.tap((note) =>
                Effect.sync(() => (note === undefined ? undefined : options.onRollbackTrouble?.(note)))
              )
            )
          : Effect.void
    )
  })

/** Every mount stacked at the target, top first, each a tmpfs: a mount of anything else is refused, never entered. */
const unmountAll = (path: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < maxStackedMounts; i++) {
      const entry = yield* mountEntryAt(path)
      if (Option.isNone(entry)) return
      if (entry.value.fsType !== "tmpfs") {
        return yield* Effect.fail(
          mountFailed(
            `target ${path} is a ${entry.value.fsType} mount (source ${entry.value.source}), ` +
              "not this driver's tmpfs: refusing to unmount it or delete anything in it"
          )
        )
      }
      yield* unmount(path)
    }
    return yield* Effect.fail(mountFailed(`target ${path} is still a mount point after ${maxStackedMounts} unmounts`))
  })

/** rmdir, never a recursive delete: what is left in the directory was not in this driver's tmpfs. */
const removeTargetDir = (path: string) =>
  Effect.tryPromise(() => fs.rmdir(path)).pipe(
    Effect.catch((error) => {
      const code = errnoCode(error.cause)
      if (code === "ENOENT") return Effect.void
      if (code === "ENOTEMPTY" || code === "EEXIST") {
        return Effect.logWarning("unpublish: the target directory is not empty after unmounting; left it in place", {
          target: path
        })
      }
      return Effect.fail(mountFailed(`removing target ${path}: ${describeCause(error.cause)}`, error.cause))
    })
  )

const cleanupMountPoint = Effect.fn("Mounter.cleanupMountPoint")(function* (path: string) {
  const stat = yield* Effect.tryPromise(() => fs.lstat(path)).pipe(
    Effect.map(Option.some),
    Effect.catch((error) =>
      errnoCode(error.cause) === "ENOENT"
        ? Effect.succeed(Option.none<Stats>())
        : Effect.fail(mountFailed(`checking target ${path}: ${describeCause(error.cause)}`, error.cause))
    )
  )
  if (Option.isNone(stat)) return
  if (!stat.value.isDirectory()) {
    return yield* Effect.fail(mountFailed(`target ${path} is not a directory: refusing to remove it`))
  }
  // Unmount first: the tmpfs's contents vanish with it, whatever their number (no walk, no per-file promise).
  yield* unmountAll(path)
  yield* removeTargetDir(path)
})

const tmpfsDevice = Effect.fn("Mounter.tmpfsDevice")(function* (path: string) {
  return Option.fromUndefinedOr(yield* Effect.promise(() => tmpfsMountDevice(path)))
})

/** The real mounts, each tmpfs limited to `tmpfsSizeLimit` bytes (0: no limit). */
const liveMounter = (tmpfsSizeLimit: number): MounterShape => {
  const mountTmpfs = mountTmpfsWith({ sizeBytes: tmpfsSizeLimit })
  return {
    mountState,
    ensureDir,
    tmpfsSizeLimit,
    mountTmpfs,
    mountTmpfsScoped: makeMountTmpfsScoped({ mountState, mountTmpfs, unmount, unmountLazy: mountCalls.unmountLazy }),
    unmount,
    cleanupMountPoint,
    tmpfsDevice
  }
}

export interface MounterOptions {
  /** `--tmpfs-size-limit`, bytes; 0: no limit. */
  readonly tmpfsSizeLimit: number
}

export class Mounter extends Context.Service<Mounter, MounterShape>()("Mounter") {
  /** The real mounts with the default size limit (DEFAULT_TMPFS_SIZE_LIMIT). */
  static readonly layer: Layer.Layer<Mounter> = Layer.succeed(Mounter, liveMounter(DEFAULT_TMPFS_SIZE_LIMIT))

  /** The real mounts with the driver's `--tmpfs-size-limit`. */
  static readonly layerWith = (options: MounterOptions): Layer.Layer<Mounter> =>
    Layer.succeed(Mounter, liveMounter(options.tmpfsSizeLimit))

  /**
   * Mount state kept in memory; directories stay real on disk so a writer can write into them.
   * Unmounting the last layer empties the directory, as a real tmpfs's contents vanish with it.
   */
  static readonly layerInMemory: Layer.Layer<Mounter | MounterInMemory> = Layer.syncContext(() => {
    const state = makeInMemoryState()
    return Context.make(Mounter, state.mounter).pipe(Context.add(MounterInMemory, state.control))
  })
}
