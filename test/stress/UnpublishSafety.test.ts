// The built driver with rotation off and the DaemonSet's memory flags: a tmpfs it did not fill (someone else's, or
// one holding 100,000 files) is never answered "already published", and unpublish frees even a huge tmpfs at once
// (the unmount takes its contents; nothing walks them) without the driver leaving its heap limit.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { eventually } from "../support/ChildProcess.js"
import { outcomeOf } from "../support/CsiOutcome.js"
import { kubeletPublish, mountsUnder, startStressNode, targetFor, type StressNode } from "../support/StressHarness.js"
import { hang, respondFiles } from "../support/TestProvider.js"

// manifests/base/daemonset.yaml's NODE_OPTIONS when the heap-limit crash was found.
const DAEMONSET_NODE_OPTIONS = "--max-old-space-size=96 --max-semi-space-size=1 --jitless"
const FILES = 100_000

let node: StressNode
beforeAll(async () => {
  node = await startStressNode({
    driverArgs: ["--enable-secret-rotation=false"],
    driverEnv: { NODE_OPTIONS: DAEMONSET_NODE_OPTIONS }
  })
  node.provider.onMount(respondFiles([{ path: "a", contents: "alpha" }]))
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

const isMountPoint = (p: string) => mountsUnder(p).some((m) => m.mountPoint === p)
const mountTmpfs = (target: string) => {
  fs.mkdirSync(target)
  execFileSync("mount", ["-t", "tmpfs", "tmpfs", target])
}

describe("rotation off, the deployment's heap limit", () => {
  it("a foreign tmpfs at the target is not 'already published': the provider is called, files written", async () => {
    const target = targetFor(node.kubelet, "foreign-tmpfs")
    mountTmpfs(target)
    fs.writeFileSync(path.join(target, "someone-elses"), "x")
    const calls = node.provider.mountRequests().length
    expect(await outcomeOf(node.csi().node.nodePublishVolume(kubeletPublish(target, "foreign-tmpfs")))).toEqual({
      ok: true
    })
    expect(node.provider.mountRequests().length).toBe(calls + 1)
    expect(fs.readFileSync(path.join(target, "a"), "utf8")).toBe("alpha")
    expect(fs.readlinkSync(path.join(target, "a"))).toBe("..data/a")
  })

  it(`unpublish of a tmpfs holding ${FILES.toLocaleString("en")} files: OK, target gone, driver alive`, async () => {
    const target = targetFor(node.kubelet, "huge")
    mountTmpfs(target)
    // The writer's layout of a 100,000-file payload: one data directory holding the files, one visible link each.
    const data = path.join(target, "..2026_01_02_03_04_05.1")
    fs.mkdirSync(data)
    for (let i = 0; i < FILES; i++) {
      fs.writeFileSync(path.join(data, `f${i}`), "s")
      fs.symlinkSync(`..data/f${i}`, path.join(target, `f${i}`))
    }
    fs.symlinkSync(path.basename(data), path.join(target, "..data"))
    const started = Date.now()
    const outcome = await outcomeOf(node.csi().node.nodeUnpublishVolume({ volumeId: "v", targetPath: target }))
    console.info(`unpublish of ${FILES} files: ${Date.now() - started} ms`)
    expect(outcome).toEqual({ ok: true })
    expect(isMountPoint(target)).toBe(false)
    expect(fs.existsSync(target)).toBe(false)
    expect(node.driver().child.exitCode).toBeNull()
    await node.csi().identity.probe({})
  }, 120_000)

  it("kill -9 after a first publish's mount (provider still busy): the restarted driver writes the files", async () => {
    const target = targetFor(node.kubelet, "killed-first-publish")
    node.provider.onMount(hang)
    const pending = outcomeOf(node.csi().node.nodePublishVolume(kubeletPublish(target, "killed-first-publish")))
    await eventually(() => expect(isMountPoint(target)).toBe(true), 30_000)
    await node.stopDriver("SIGKILL")
    await pending
    // What the kill left: this driver's tmpfs, empty.
    expect(isMountPoint(target)).toBe(true)
    expect(fs.readdirSync(target)).toEqual([])
    await node.startDriver()
    node.provider.onMount(respondFiles([{ path: "a", contents: "alpha" }]))
    expect(await outcomeOf(node.csi().node.nodePublishVolume(kubeletPublish(target, "killed-first-publish")))).toEqual({
      ok: true
    })
    expect(fs.readFileSync(path.join(target, "a"), "utf8")).toBe("alpha")
    expect(mountsUnder(target)).toHaveLength(1)
  }, 120_000)
})
