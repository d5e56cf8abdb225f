// Target paths at the edge: the CSI spec requires an absolute path; anything else is refused before it can be
// created, mounted or emptied.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { decodePublish, decodeUnpublish } from "../../src/csi/NodeRequests.js"
import { publishRequest } from "../support/CsiClient.js"

const root = "/var/lib/kubelet"
const refused = [
  "relative/mount",
  "./mount",
  "/var/lib/kubelet/pods/u/volumes/../../../etc",
  "/a//b",
  "/a/./b",
  "/",
  "//"
]
const outside = [
  "/t",
  "/var/lib/kubelet/pods/u/mount/",
  "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v",
  "/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/v/mount",
  "/var/lib/kubelet-other/pods/u/volumes/kubernetes.io~csi/v/mount",
  "/tmp/pods/u/volumes/kubernetes.io~csi/v/mount"
]
const accepted = [
  "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v/mount",
  "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v/mount/"
]

describe("target path rules", () => {
  it.each(outside)("refuses %j, which is not kubelet's CSI volume path under the kubelet root", (targetPath) => {
    for (const exit of [
      Effect.runSyncExit(decodePublish(publishRequest({ targetPath }), root)),
      Effect.runSyncExit(decodeUnpublish({ volumeId: "v", targetPath }, root))
    ]) {
      const error = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
      expect(JSON.stringify(error)).toContain("is not <kubelet root>/pods/<uid>/volumes/kubernetes.io~csi/<name>/mount")
      expect(JSON.stringify(error)).toContain("InvalidRequest")
    }
  })

  it("the shape check keeps upstream's order: a missing target path or volume id is reported first", () => {
    const exit = Effect.runSyncExit(decodeUnpublish({ volumeId: "", targetPath: "/t" }, root))
    expect(JSON.stringify(Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined)).toContain("Volume ID missing")
  })

  it.each(refused)("refuses %j on publish and unpublish", (targetPath) => {
    for (const exit of [
      Effect.runSyncExit(decodePublish(publishRequest({ targetPath }), root)),
      Effect.runSyncExit(decodeUnpublish({ volumeId: "v", targetPath }, root))
    ]) {
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
      expect(JSON.stringify(error)).toContain("is not an absolute, clean path")
    }
  })

  it.each(accepted)("accepts %j", (targetPath) => {
    expect(Exit.isSuccess(Effect.runSyncExit(decodePublish(publishRequest({ targetPath }), root)))).toBe(true)
    expect(Exit.isSuccess(Effect.runSyncExit(decodeUnpublish({ volumeId: "v", targetPath }, root)))).toBe(true)
  })
})

/** A publish request whose mount capability carries `volumeMountGroup`. */
const withGroup = (volumeMountGroup: string) =>
  publishRequest({
    volumeCapability: {
      accessType: { $case: "mount", value: { fsType: "", mountFlags: [], volumeMountGroup } },
      accessMode: publishRequest().volumeCapability!.accessMode
    }
  })

describe("volume_mount_group (the pod's fsGroup)", () => {
  it.each([
    ["", undefined],
    ["0", 0],
    ["2000", 2000],
    ["4294967294", 4_294_967_294]
  ])("accepts %j as gid %j", (text, gid) => {
    const exit = Effect.runSyncExit(decodePublish(withGroup(text), root))
    expect(Exit.isSuccess(exit) ? exit.value.mountGroup : "failed").toBe(gid)
  })

  // 4294967295 is (gid_t)-1: chown would leave the group unchanged. Signs, spaces, leading zeros, hex and
  // exponents are refused rather than guessed at.
  it.each(["abc", "-1", "4294967295", "4294967296", " 1", "1 ", "+1", "01", "0x10", "1e3", "2000.0", "99999999999"])(
    "refuses %j as InvalidRequest naming the field and the volume",
    (text) => {
      const exit = Effect.runSyncExit(decodePublish(withGroup(text), root))
      const error = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
      const json = JSON.stringify(error)
      expect(json).toContain("InvalidRequest")
      expect(json).toContain("volume_mount_group")
      expect(json).toContain("csi-0123456789abcdef")
    }
  )
})
