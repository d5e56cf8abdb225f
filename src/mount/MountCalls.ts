// The two mount syscalls the driver needs. mount(2)/umount2(2) through the small N-API addon in native/ (built by
// `npm ci`): spawning mount(8) from the driver cost ~4 ms of main-thread CPU per publish, the syscall microseconds.
// Where the addon could not be built (no compiler, another OS), mount(8)/umount(8) without a shell do the same.
import { execFile } from "node:child_process"
import { createRequire } from "node:module"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { errnoCode } from "../platform/errno.js"

export class MountError extends Schema.TaggedError<MountError>()("MountError", {
  reason: Schema.Literal("MountFailed"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

export const mountFailed = (message: string, cause?: unknown): MountError =>
  new MountError(cause === undefined ? { reason: "MountFailed", message } : { reason: "MountFailed", message, cause })

export const describeCause = (cause: unknown): string => {
  const stderr = typeof cause === "object" && cause !== null && "stderr" in cause ? String(cause.stderr).trim() : ""
  if (stderr.length > 0) return stderr
  return errnoCode(cause) ?? (cause instanceof Error ? cause.message : String(cause))
}

/** How a volume's tmpfs is mounted: always `nosuid,nodev` with its root 0755, plus a size limit unless 0. */
export interface TmpfsOptions {
  /** The tmpfs `size=` in bytes; 0 mounts without one (the kernel's default: half the RAM). */
  readonly sizeBytes: number
}

/**
 * `--tmpfs-size-limit`'s default, 96 MiB: whatever the other defaults accept fits twice (a rotation stages the new
 * version beside the old). A response may hold 4 MiB (`--max-call-recv-msg-size`) in up to 10,000 files
 * (`--max-provider-files`), and tmpfs charges each non-empty file at least one 4 KiB page: 4 MiB + 39 MiB, twice.
 */
export const DEFAULT_TMPFS_SIZE_LIMIT = 96 * 1024 * 1024

/** The `-o` options of mount(8), the same the addon passes to mount(2) as flags and data. */
export const tmpfsMountOptions = (options: TmpfsOptions): string =>
  ["nosuid", "nodev", ...(options.sizeBytes > 0 ? [`size=${options.sizeBytes}`] : []), "mode=0755"].join(",")

export interface MountCalls {
  readonly mountTmpfs: (path: string, options: TmpfsOptions) => Effect.Effect<void, MountError>
  readonly unmount: (path: string) => Effect.Effect<void, MountError>
  /** MNT_DETACH: the mount leaves the path now and is freed when its last user (a cwd, an open file) lets go. */
  readonly unmountLazy: (path: string) => Effect.Effect<void, MountError>
}

// A hung mount(8) must not hold the target's lock forever.
const commandTimeoutMs = 60_000

const runCommand = (command: "mount" | "umount", args: ReadonlyArray<string>, what: string, path: string) =>
  Effect.tryPromise({
    try: (signal) =>
      new Promise<void>((resolve, reject) => {
        execFile(command, args, { signal, timeout: commandTimeoutMs }, (error) => (error ? reject(error) : resolve()))
      }),
    catch: (cause) => mountFailed(`${what} ${path} failed: ${describeCause(cause)}`, cause)
  })

/** mount(8)/umount(8): what upstream runs, and the fallback where the addon is missing. */
export const commandCalls: MountCalls = {
  mountTmpfs: (path, options) =>
    runCommand("mount", ["-t", "tmpfs", "-o", tmpfsMountOptions(options), "tmpfs", path], "mounting tmpfs at", path),
  unmount: (path) => runCommand("umount", [path], "unmounting", path),
  unmountLazy: (path) => runCommand("umount", ["-l", path], "lazily unmounting", path)
}

interface Addon {
  /** mount(2) with MS_NOSUID|MS_NODEV and `size=<sizeBytes>,mode=0755` (no size when 0). */
  readonly mountTmpfsHardened?: (path: string, sizeBytes: number) => void
  readonly unmount: (path: string) => void
  readonly unmountLazy?: (path: string) => void
}

const syscall = (run: () => void, what: string, path: string) =>
  Effect.try({ try: run, catch: (cause) => mountFailed(`${what} ${path} failed: ${describeCause(cause)}`, cause) })

const addonCalls = (addon: Addon): MountCalls => ({
  // An addon built before the hardened mount existed would mount without options: mount(8) mounts it hardened.
  mountTmpfs: (path, options) =>
    addon.mountTmpfsHardened === undefined
      ? commandCalls.mountTmpfs(path, options)
      : syscall(() => addon.mountTmpfsHardened!(path, options.sizeBytes), "mounting tmpfs at", path),
  unmount: (path) => syscall(() => addon.unmount(path), "unmounting", path),
  // An addon built before the lazy variant existed: umount(8) -l does the same.
  unmountLazy: (path) =>
    addon.unmountLazy === undefined
      ? commandCalls.unmountLazy(path)
      : syscall(() => addon.unmountLazy!(path), "lazily unmounting", path)
})

/** The addon from build/Release (two levels up from both src/mount/ and dist/mount/), if it was built. */
const loadAddon = (): Addon | undefined => {
  try {
    return createRequire(import.meta.url)("../../build/Release/secrets_store_mount.node") as Addon
  } catch {
    return undefined
  }
}

const addon = loadAddon()

/** What the driver mounts with: the syscalls when the addon is there, mount(8) otherwise. */
export const mountCalls: MountCalls = addon === undefined ? commandCalls : addonCalls(addon)
export const mountCallsKind: "syscall" | "mount(8)" = addon === undefined ? "mount(8)" : "syscall"
