// Target paths kubelet never sends, and targets a pod could bend. The driver acts only on kubelet's
// `<root>/pods/<uid>/volumes/kubernetes.io~csi/<name>/mount` under --kubelet-root-dir, follows no symlink below the
// root, unmounts only its tmpfs and never deletes into anything else. These tests pin the refusals (nothing created,
// mounted or deleted); each case lands inside this test's temp dir, so any harm stays there.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { repoRoot } from "../support/ChildProcess.js"
import { outcomeOf, typedReasonOf } from "../support/CsiOutcome.js"
import {
  kubeletPublish,
  mountsUnder,
  startStressNode,
  targetFor,
  unmountAllUnder,
  type StressNode
} from "../support/StressHarness.js"
import { respondFiles } from "../support/TestProvider.js"

let node: StressNode
beforeAll(async () => {
  node = await startStressNode()
  node.provider.onMount(respondFiles([{ path: "a", contents: "alpha" }]))
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

/** Relative to the driver's working directory (the repo root), landing in this test's temp dir. */
const relativeTo = (absolute: string) => path.relative(repoRoot, absolute)

const publishRefused = async (targetPath: string, resolved: string) => {
  try {
    const outcome = await outcomeOf(node.csi().node.nodePublishVolume(kubeletPublish(targetPath, "odd")))
    expect(outcome).toMatchObject({ ok: false, codeName: "INVALID_ARGUMENT" })
    expect(fs.existsSync(resolved), `the driver created ${resolved}`).toBe(false)
    expect(mountsUnder(node.base)).toEqual([])
  } finally {
    unmountAllUnder(node.base)
  }
}

describe("target paths kubelet never sends", () => {
  it("publish: a relative target path is refused with INVALID_ARGUMENT; nothing is created or mounted", async () => {
    const resolved = path.join(node.base, "relative-escape", "mount")
    expect(path.isAbsolute(relativeTo(resolved))).toBe(false)
    await publishRefused(relativeTo(resolved), resolved)
  })

  it("publish: a path whose '..' climbs out of the pods dir is refused; nothing is created or mounted", async () => {
    const climbing = `${node.kubelet}/pods/p1/volumes/../../../escape-dots/mount`
    await publishRefused(climbing, path.join(node.kubelet, "escape-dots", "mount"))
  })

  it("unpublish: a relative target path is refused and the directory it resolves to keeps its files", async () => {
    const precious = path.join(node.base, "precious")
    fs.mkdirSync(precious)
    fs.writeFileSync(path.join(precious, "data.txt"), "keep me")
    const outcome = await outcomeOf(
      node.csi().node.nodeUnpublishVolume({ volumeId: "v", targetPath: relativeTo(precious) })
    )
    expect(fs.existsSync(path.join(precious, "data.txt")), "unpublish deleted a directory outside any pod").toBe(true)
    expect(outcome).toMatchObject({ ok: false, codeName: "INVALID_ARGUMENT" })
  })
})

/** A pod's target under the harness's kubelet root (its parent created, as kubelet does). */
const podTarget = (uid: string) => targetFor(node.kubelet, uid)
const publish = (target: string, uid: string) =>
  outcomeOf(node.csi().node.nodePublishVolume(kubeletPublish(target, uid)))
const unpublish = (target: string) =>
  outcomeOf(node.csi().node.nodeUnpublishVolume({ volumeId: "v", targetPath: target }))
const isMountPoint = (p: string) => mountsUnder(p).some((m) => m.mountPoint === p)

/** A directory outside the pods tree holding a file the driver must never touch. */
const precious = (name: string) => {
  const dir = path.join(node.base, name)
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, "data.txt"), "keep me")
  return dir
}
const kept = (dir: string) => fs.readFileSync(path.join(dir, "data.txt"), "utf8") === "keep me"

describe("targets are confined to the kubelet root's pods tree, with no symlink on the way", () => {
  it("unpublish of a directory outside the pods tree (a decoy) is refused; the directory keeps its files", async () => {
    const decoy = precious("decoy")
    expect(await unpublish(decoy)).toMatchObject({ ok: false, codeName: "INVALID_ARGUMENT" })
    expect(kept(decoy), "unpublish deleted a directory outside any pod").toBe(true)
  })

  it("a target that is a symlink: publish mounts nothing anywhere, unpublish deletes nothing through it", async () => {
    const elsewhere = precious("symlinked-target")
    const target = podTarget("symlinked-target")
    fs.symlinkSync(elsewhere, target)
    try {
      expect(await publish(target, "symlinked-target")).toMatchObject({ ok: false, codeName: "INVALID_ARGUMENT" })
      expect(mountsUnder(node.base)).toEqual([])
      expect(await unpublish(target)).toMatchObject({ ok: false, codeName: "INVALID_ARGUMENT" })
      expect(kept(elsewhere), "unpublish deleted through the symlink").toBe(true)
    } finally {
      unmountAllUnder(node.base)
    }
  })

  it("a symlinked parent (the pod's dir): publish is refused, nothing is mounted outside the pods tree", async () => {
    const elsewhere = path.join(node.base, "symlinked-parent")
    fs.mkdirSync(path.join(elsewhere, "volumes", "kubernetes.io~csi", "secrets"), { recursive: true })
    const podDir = path.join(node.kubelet, "pods", "symlinked-parent")
    fs.mkdirSync(path.dirname(podDir), { recursive: true })
    fs.symlinkSync(elsewhere, podDir)
    const target = path.join(podDir, "volumes", "kubernetes.io~csi", "secrets", "mount")
    try {
      expect(await publish(target, "symlinked-parent")).toMatchObject({ ok: false, codeName: "INVALID_ARGUMENT" })
      expect(mountsUnder(node.base)).toEqual([])
      expect(fs.existsSync(path.join(elsewhere, "volumes", "kubernetes.io~csi", "secrets", "mount"))).toBe(false)
    } finally {
      unmountAllUnder(node.base)
    }
  })

  it("a host directory bind-mounted at the target: unpublish refuses (MountFailed), the host files stay", async () => {
    const host = precious("bind-host")
    const target = podTarget("bind")
    fs.mkdirSync(target)
    execFileSync("mount", ["--bind", host, target])
    try {
      const refused = await unpublish(target)
      expect(refused).toMatchObject({ ok: false })
      expect(typedReasonOf(refused)).toBe("MountFailed")
      expect(kept(host), "unpublish deleted the host's files through the bind mount").toBe(true)
      expect(isMountPoint(target)).toBe(true)
      // Nor is it taken as a published volume, or written into.
      expect(typedReasonOf(await publish(target, "bind"))).toBe("MountFailed")
      expect(fs.readdirSync(host)).toEqual(["data.txt"])
    } finally {
      unmountAllUnder(node.base)
    }
  })
})
