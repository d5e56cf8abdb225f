// docs/contract.md#republish-skip: a republish skips the provider only on a real tmpfs mount point refreshed within
// the poll interval.
import { describe, expect, it } from "@effect/vitest"
import type { MountState } from "../../src/mount/Mounter.js"
import { decideRepublish } from "../../src/publish/RotationPolicy.js"

const on = { enabled: true, pollIntervalMillis: 120_000 }
const off = { enabled: false, pollIntervalMillis: 120_000 }
const now = 1_000_000
const tmpfs: MountState = { _tag: "Mounted", fsType: "tmpfs" }

describe("decideRepublish", () => {
  it.each([
    ["a missing target is a first mount", { _tag: "Missing" } as MountState, on, undefined, "FirstMount"],
    [
      "a plain directory is a first mount, even if written a moment ago",
      { _tag: "Directory" } as MountState,
      on,
      now - 1,
      "FirstMount"
    ],
    ["rotation off: a mounted target is a no-op", tmpfs, off, undefined, "NoOp"],
    ["rotation on, refreshed 1 s ago: no-op", tmpfs, on, now - 1_000, "NoOp"],
    ["rotation on, refreshed 3 min ago: refresh", tmpfs, on, now - 180_000, "Refresh"],
    ["rotation on, never refreshed by this process: refresh", tmpfs, on, undefined, "Refresh"],
    [
      "a mount that is not a tmpfs is foreign, never written into or trusted",
      { _tag: "Mounted", fsType: "ext4" } as MountState,
      on,
      now - 1,
      "Foreign"
    ],
    [
      "rotation off, a foreign mount is still foreign",
      { _tag: "Mounted", fsType: "ext4" } as MountState,
      off,
      now - 1,
      "Foreign"
    ],
    [
      "after a restart, the target's mtime stands in: written 10 s ago is fresh",
      { _tag: "Mounted", fsType: "tmpfs", modifiedMillis: now - 10_000 } as MountState,
      on,
      undefined,
      "NoOp"
    ],
    [
      "after a restart, an old mtime refreshes",
      { _tag: "Mounted", fsType: "tmpfs", modifiedMillis: now - 600_000 } as MountState,
      on,
      undefined,
      "Refresh"
    ],
    [
      "this process's own refresh wins over the mtime",
      { _tag: "Mounted", fsType: "tmpfs", modifiedMillis: now - 10_000 } as MountState,
      on,
      now - 600_000,
      "Refresh"
    ]
  ] as const)("%s", (_name, state, settings, last, expected) => {
    expect(decideRepublish(state, true, settings, last, now)._tag).toBe(expected)
  })

  it.each([
    ["rotation off", off, undefined],
    ["rotation on, refreshed 1 s ago", on, now - 1_000],
    ["after a restart, written 10 s ago", on, undefined]
  ] as const)("a tmpfs without a complete layout is a first publish (%s)", (_name, settings, last) => {
    const state: MountState = { _tag: "Mounted", fsType: "tmpfs", modifiedMillis: now - 10_000 }
    expect(decideRepublish(state, false, settings, last, now)._tag).toBe("FirstMount")
  })
})
