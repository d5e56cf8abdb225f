import { describe, expect, it } from "vitest"
import { parseVolumeTarget, pathsBelowRoot, volumeTargetPath } from "../../src/domain/VolumeTarget.js"

const root = "/var/lib/kubelet"
const good = `${root}/pods/uid-1/volumes/kubernetes.io~csi/secrets/mount`

describe("parseVolumeTarget", () => {
  it("reads kubelet's CSI volume path", () => {
    expect(parseVolumeTarget(root, good)).toEqual({
      kubeletRoot: root,
      podUid: "uid-1",
      volumeName: "secrets",
      path: good
    })
    expect(parseVolumeTarget(`${root}/`, `${good}/`)).toEqual({
      kubeletRoot: root,
      podUid: "uid-1",
      volumeName: "secrets",
      path: good
    })
  })

  it.each([
    "relative/pods/u/volumes/kubernetes.io~csi/v/mount",
    "/",
    "/tmp/decoy",
    `${root}/pods/u/volumes/kubernetes.io~csi/v`,
    `${root}/pods/u/volumes/kubernetes.io~csi/v/mount/deeper`,
    `${root}/pods/u/volumes/kubernetes.io~empty-dir/v/mount`,
    `${root}/pods/../volumes/kubernetes.io~csi/v/mount`,
    `${root}/pods/u/volumes/kubernetes.io~csi/./mount`,
    `${root}//pods/u/volumes/kubernetes.io~csi/v/mount`,
    `${root}-other/pods/u/volumes/kubernetes.io~csi/v/mount`,
    `/other/pods/u/volumes/kubernetes.io~csi/v/mount`,
    // The look-alike inside a pod's own writable volume (a hostile SPCPS or request).
    `${root}/pods/a/volumes/kubernetes.io~empty-dir/x/pods/u/volumes/kubernetes.io~csi/v/mount`
  ])("refuses %j", (target) => {
    expect(typeof parseVolumeTarget(root, target)).toBe("string")
  })

  it("round-trips with volumeTargetPath and lists the elements below the root", () => {
    const path = volumeTargetPath(root, "uid-1", "secrets")
    expect(path).toBe(good)
    const parsed = parseVolumeTarget(root, path)
    if (typeof parsed === "string") throw new Error(parsed)
    expect(pathsBelowRoot(parsed)).toEqual([
      `${root}/pods`,
      `${root}/pods/uid-1`,
      `${root}/pods/uid-1/volumes`,
      `${root}/pods/uid-1/volumes/kubernetes.io~csi`,
      `${root}/pods/uid-1/volumes/kubernetes.io~csi/secrets`,
      good
    ])
  })
})
