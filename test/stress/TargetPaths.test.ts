// Target paths kubelet never sends. CSI spec (NodePublishVolumeRequest.target_path): "MUST be an absolute path
// in the root filesystem of the process serving this request". The driver takes any string today: a relative
// path is resolved against its working directory, `..` climbs out of the pods dir, and an unpublish of such a
// path empties and removes whatever directory it lands on. These tests pin the refusal (INVALID_ARGUMENT,
// nothing created, mounted or deleted); each case resolves inside this test's temp dir, so the harm stays there.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { repoRoot } from "../support/ChildProcess.js"
import { outcomeOf } from "../support/CsiOutcome.js"
import { kubeletPublish, mountsUnder, startStressNode, unmountAllUnder, type StressNode } from "../support/StressHarness.js"
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

  it("publish: an absolute path with '..' climbing out of the pods dir is refused; nothing is created or mounted", async () => {
    const climbing = `${node.kubelet}/pods/p1/volumes/../../../escape-dots/mount`
    await publishRefused(climbing, path.join(node.kubelet, "escape-dots", "mount"))
  })

  it("unpublish: a relative target path is refused and the directory it resolves to keeps its files", async () => {
    const precious = path.join(node.base, "precious")
    fs.mkdirSync(precious)
    fs.writeFileSync(path.join(precious, "data.txt"), "keep me")
    const outcome = await outcomeOf(node.csi().node.nodeUnpublishVolume({ volumeId: "v", targetPath: relativeTo(precious) }))
    expect(fs.existsSync(path.join(precious, "data.txt")), "unpublish deleted a directory outside any pod").toBe(true)
    expect(outcome).toMatchObject({ ok: false, codeName: "INVALID_ARGUMENT" })
  })
})
