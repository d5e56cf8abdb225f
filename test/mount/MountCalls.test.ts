// The two ways the driver mounts: mount(2) through the addon `npm ci` builds (what runs here), and mount(8),
// the fallback where the addon cannot be built. Both mount and unmount a real tmpfs and fail typed.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { commandCalls, type MountCalls, mountCalls, mountCallsKind } from "../../src/mount/MountCalls.js"
import { findMountInText } from "../../src/mount/MountInfo.js"

const limited = { sizeBytes: 16384 }

const mounted = (path: string) =>
  fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[4] === path)

const roundTrip = (calls: MountCalls) =>
  Effect.gen(function* () {
    const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "mount-calls-"))
    yield* calls.mountTmpfs(dir, limited)
    assert.isTrue(mounted(dir))
    fs.writeFileSync(nodePath.join(dir, "f"), "x")
    yield* calls.unmount(dir)
    assert.isFalse(mounted(dir))
    assert.deepStrictEqual(fs.readdirSync(dir), [])
    const missing = yield* Effect.flip(calls.mountTmpfs(nodePath.join(dir, "missing"), limited))
    assert.strictEqual(missing.reason, "MountFailed")
    assert.include(missing.message, nodePath.join(dir, "missing"))
    const notMounted = yield* Effect.flip(calls.unmount(dir))
    assert.include(notMounted.message, dir)
    fs.rmdirSync(dir)
  })

/** A busy tmpfs (a child's cwd inside): unmount fails with EBUSY, the lazy unmount detaches it at once. */
const busyRoundTrip = (calls: MountCalls) =>
  Effect.gen(function* () {
    const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "mount-calls-busy-"))
    yield* calls.mountTmpfs(dir, limited)
    const child = spawn("sleep", ["600"], { cwd: dir, stdio: "ignore" })
    yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
    yield* Effect.promise(() => new Promise((resolve) => child.once("spawn", resolve)))
    const busy = yield* Effect.flip(calls.unmount(dir))
    assert.include(busy.message, dir)
    assert.match(busy.message, /EBUSY|busy/i)
    assert.isTrue(mounted(dir))
    yield* calls.unmountLazy(dir)
    assert.isFalse(mounted(dir))
    fs.rmdirSync(dir)
  }).pipe(Effect.scoped)

/** The options the kernel reports for a tmpfs mounted with `sizeBytes`, and what a pod could do on it. */
const hardened = (calls: MountCalls, sizeBytes: number) =>
  Effect.gen(function* () {
    const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "mount-calls-hardened-"))
    yield* calls.mountTmpfs(dir, { sizeBytes })
    const entry = findMountInText(fs.readFileSync("/proc/self/mountinfo", "utf8"), dir)
    const mode = fs.statSync(dir).mode & 0o7777
    let full = false
    if (sizeBytes > 0) {
      try {
        fs.writeFileSync(nodePath.join(dir, "big"), Buffer.alloc(sizeBytes + 4096))
      } catch (e) {
        full = (e as NodeJS.ErrnoException).code === "ENOSPC"
      }
    }
    yield* calls.unmount(dir)
    fs.rmdirSync(dir)
    assert.isTrue(entry._tag === "Some")
    if (entry._tag !== "Some") return
    const options = entry.value.mountOptions.split(",")
    const superOptions = entry.value.superOptions.split(",")
    assert.includeMembers(options, ["nosuid", "nodev"])
    assert.include(superOptions, "mode=755")
    assert.strictEqual(mode, 0o755)
    if (sizeBytes > 0) {
      assert.include(superOptions, `size=${sizeBytes / 1024}k`)
      assert.isTrue(full, "a write past the size limit fails with ENOSPC")
    } else {
      assert.isFalse(superOptions.some((o) => o.startsWith("size=")))
    }
  })

describe("mount calls", () => {
  it("npm ci built the mount(2) addon, so the driver does not spawn mount(8)", () => {
    assert.strictEqual(mountCallsKind, "syscall")
  })
  it.live("the syscalls mount and unmount a tmpfs, and fail typed", () => roundTrip(mountCalls))
  it.live("the mount(8) fallback does the same", () => roundTrip(commandCalls))
  it.live("a busy tmpfs: unmount fails with EBUSY, the lazy unmount detaches it (syscall)", () =>
    busyRoundTrip(mountCalls)
  )
  it.live("a busy tmpfs: the same with umount(8) -l", () => busyRoundTrip(commandCalls))
  it.live("the syscall mounts nosuid,nodev, root 0755 and size=: a bigger write is ENOSPC", () =>
    hardened(mountCalls, 16384)
  )
  it.live("mount(8) mounts with the same options", () => hardened(commandCalls, 16384))
  it.live("size 0: nosuid,nodev and mode, no size option (syscall)", () => hardened(mountCalls, 0))
  it.live("size 0: the same with mount(8)", () => hardened(commandCalls, 0))
})
