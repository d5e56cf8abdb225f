// The filesystem half of target confinement on real directories: every kind of symlink below the kubelet root is
// refused, whichever way the check takes (the one-round realpath check or the lstat walk), and a symlinked root is not.
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { parseVolumeTarget, type VolumeTarget } from "../../src/domain/VolumeTarget.js"
import { checkConfinement } from "../../src/mount/TargetConfinement.js"

const base = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "confinement-")))
afterAll(() => fs.rmSync(base, { recursive: true, force: true }))

let n = 0
/** A fresh kubelet root with one pod volume dir made (without `mount`), and the target's VolumeTarget. */
const fresh = (rootName = "kubelet") => {
  const root = nodePath.join(base, `${n++}`, rootName)
  const volume = nodePath.join(root, "pods", "uid-1", "volumes", "kubernetes.io~csi", "secrets")
  fs.mkdirSync(volume, { recursive: true })
  const target = parseVolumeTarget(root, nodePath.join(volume, "mount")) as VolumeTarget
  return { root, volume, target }
}

describe("checkConfinement", () => {
  it("an existing target directory with no link on the way is confined", async () => {
    const { target } = fresh()
    fs.mkdirSync(target.path)
    expect(await checkConfinement(target)).toEqual({ _tag: "Confined" })
  })

  it("a missing target (a first publish) is confined: mkdir creates it without following a link", async () => {
    const { target } = fresh()
    expect(await checkConfinement(target)).toEqual({ _tag: "Confined" })
  })

  it("the kubelet root may be a symlink: it is the operator's", async () => {
    const { root, target } = fresh()
    const linkedRoot = `${root}-link`
    fs.symlinkSync(root, linkedRoot)
    fs.mkdirSync(target.path)
    const viaLink = parseVolumeTarget(linkedRoot, target.path.replace(root, linkedRoot)) as VolumeTarget
    expect(await checkConfinement(viaLink)).toEqual({ _tag: "Confined" })
  })

  it("a target that is a symlink to another directory is refused", async () => {
    const { target } = fresh()
    const elsewhere = nodePath.join(base, `elsewhere-${n++}`)
    fs.mkdirSync(elsewhere)
    fs.symlinkSync(elsewhere, target.path)
    expect(await checkConfinement(target)).toEqual({ _tag: "Refused", why: `${target.path} is a symlink` })
  })

  it("a target that is a symlink to another pod's volume inside the same root is refused", async () => {
    const { root, target } = fresh()
    const other = nodePath.join(root, "pods", "uid-2", "volumes", "kubernetes.io~csi", "secrets", "mount")
    fs.mkdirSync(other, { recursive: true })
    fs.symlinkSync(other, target.path)
    expect(await checkConfinement(target)).toMatchObject({ _tag: "Refused" })
  })

  it("a symlinked parent (the pod's dir) is refused, even when it points back into the pods tree", async () => {
    const { root, target } = fresh()
    const podDir = nodePath.join(root, "pods", "uid-1")
    const moved = nodePath.join(root, "pods", "uid-moved")
    fs.renameSync(podDir, moved)
    fs.symlinkSync(moved, podDir)
    fs.mkdirSync(nodePath.join(moved, "volumes", "kubernetes.io~csi", "secrets", "mount"))
    expect(await checkConfinement(target)).toEqual({ _tag: "Refused", why: `${podDir} is a symlink` })
  })

  it("a relative symlink that resolves to its own path (a loop) is refused", async () => {
    const { volume, target } = fresh()
    fs.symlinkSync("mount", target.path)
    expect(await checkConfinement(target)).toEqual({ _tag: "Refused", why: `${target.path} is a symlink` })
    expect(fs.readlinkSync(nodePath.join(volume, "mount"))).toBe("mount")
  })

  it("a target that is a file is refused: not a directory", async () => {
    const { target } = fresh()
    fs.writeFileSync(target.path, "x")
    expect(await checkConfinement(target)).toEqual({ _tag: "Refused", why: `${target.path} is not a directory` })
  })

  it("a symlink to the target's own directory under another name is refused", async () => {
    const { volume, target } = fresh()
    const real = nodePath.join(volume, "real")
    fs.mkdirSync(real)
    fs.symlinkSync(real, target.path)
    expect(await checkConfinement(target)).toEqual({ _tag: "Refused", why: `${target.path} is a symlink` })
  })
})
