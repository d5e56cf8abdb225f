// End to end through the built driver: the pod's fsGroup (volume_mount_group) owns the files, the tmpfs is mounted
// nosuid,nodev with --tmpfs-size-limit, a response over the limit is refused before anything is written, and what
// a pod plants in its volume is gone after the next write. Files are read as uid 1000 with setpriv.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NodeServiceCapability_RPC_Type, type NodePublishVolumeRequest } from "../../src/gen/csi/v1/csi.js"
import { findMountInText } from "../../src/mount/MountInfo.js"
import { eventually } from "../support/ChildProcess.js"
import { publishRequest } from "../support/CsiClient.js"
import { resourceByKind } from "../support/FakeApiStore.js"
import { outcomeOf, typedReasonOf } from "../support/CsiOutcome.js"
import { kubeletPublish, mountsUnder, startStressNode, type StressNode, targetFor } from "../support/StressHarness.js"
import { respondFiles } from "../support/TestProvider.js"
import { readAs } from "../support/RunAs.js"

const LIMIT = 65_536

/** kubelet's publish for pod `uid` with the pod's fsGroup as volume_mount_group ("" = none). */
const publishWithGroup = (target: string, uid: string, volumeMountGroup: string): NodePublishVolumeRequest =>
  kubeletPublish(target, uid, {
    volumeCapability: {
      accessType: { $case: "mount", value: { fsType: "", mountFlags: [], volumeMountGroup } },
      accessMode: publishRequest().volumeCapability!.accessMode
    }
  })

/**
 * The target's parents opened to everyone (the harness's temp dirs are 0700), as a container runtime's bind mount of
 * the volume would be: what uid 1000 may read is then decided by the volume alone.
 */
const traversable = (base: string, target: string): string => {
  for (let dir = path.dirname(target); dir.startsWith(base); dir = path.dirname(dir)) fs.chmodSync(dir, 0o755)
  return target
}

const gidsOf = (target: string): ReadonlyArray<number> => {
  const dataDir = path.join(target, fs.readlinkSync(path.join(target, "..data")))
  const out: Array<number> = []
  const walk = (abs: string) => {
    const st = fs.lstatSync(abs)
    out.push(st.gid)
    if (st.isDirectory()) for (const name of fs.readdirSync(abs)) walk(path.join(abs, name))
  }
  walk(dataDir)
  return out
}

describe("fsGroup and a hardened tmpfs, end to end (built driver)", () => {
  let node: StressNode
  let outside: string
  beforeAll(async () => {
    node = await startStressNode({ driverArgs: [`--tmpfs-size-limit=${LIMIT}`] })
    outside = fs.mkdtempSync(path.join(os.tmpdir(), "fsgroup-outside-"))
    fs.writeFileSync(path.join(outside, "secret"), "outside", { mode: 0o600 })
  }, 60_000)
  afterAll(async () => {
    await node?.close()
    fs.rmSync(outside, { recursive: true, force: true })
  })

  it("NodeGetCapabilities lists VOLUME_MOUNT_GROUP and nothing else", async () => {
    const caps = await node.csi().node.nodeGetCapabilities({})
    expect(caps.capabilities).toEqual([
      { type: { $case: "rpc", value: { type: NodeServiceCapability_RPC_Type.VOLUME_MOUNT_GROUP } } }
    ])
  })

  it("gid 2000 on every entry, read as 1000:2000 and refused without; the mount is nosuid,nodev,size=", async () => {
    node.provider.onMount(
      respondFiles([
        { path: "token", contents: "t0k3n", mode: 0o600 },
        { path: "conf/app.yaml", contents: "app: 1", mode: 0o644 }
      ])
    )
    const target = traversable(node.base, targetFor(node.kubelet, "uid-g1"))
    await node.csi().node.nodePublishVolume(publishWithGroup(target, "uid-g1", "2000"))
    expect(new Set(gidsOf(target))).toEqual(new Set([2000]))
    expect(fs.statSync(path.join(target, "token")).mode & 0o7777).toBe(0o640)
    expect(readAs(2000, path.join(target, "token"))).toBe("t0k3n")
    expect(readAs(2000, path.join(target, "conf", "app.yaml"))).toBe("app: 1")
    expect(readAs(3000, path.join(target, "token"))).toBeUndefined()
    expect(readAs(3000, path.join(target, "conf", "app.yaml"))).toBeUndefined()
    const entry = findMountInText(fs.readFileSync("/proc/self/mountinfo", "utf8"), target)
    expect(entry._tag).toBe("Some")
    if (entry._tag !== "Some") return
    expect(entry.value.mountOptions.split(",")).toEqual(expect.arrayContaining(["nosuid", "nodev"]))
    expect(entry.value.superOptions.split(",")).toEqual(expect.arrayContaining([`size=${LIMIT / 1024}k`, "mode=755"]))
    expect(fs.statSync(target).mode & 0o7777).toBe(0o755)
  })

  it("a republish with another group is a new version; planted entries go, the outside is untouched", async () => {
    const target = targetFor(node.kubelet, "uid-g1")
    const before = fs.readlinkSync(path.join(target, "..data"))
    fs.writeFileSync(path.join(target, "planted"), "x")
    fs.symlinkSync(path.join(outside, "secret"), path.join(target, "link"))
    fs.symlinkSync(path.join(outside, "secret"), path.join(target, before, "conf", "link"))
    await node.csi().node.nodePublishVolume(publishWithGroup(target, "uid-g1", "3000"))
    expect(fs.readlinkSync(path.join(target, "..data"))).not.toBe(before)
    expect(new Set(gidsOf(target))).toEqual(new Set([3000]))
    expect(readAs(3000, path.join(target, "token"))).toBe("t0k3n")
    expect(readAs(2000, path.join(target, "token"))).toBeUndefined()
    const current = fs.readlinkSync(path.join(target, "..data"))
    expect(fs.readdirSync(target).sort()).toEqual([current, "..data", "conf", "token"].sort())
    expect(fs.readdirSync(path.join(target, current, "conf"))).toEqual(["app.yaml"])
    expect(fs.readFileSync(path.join(outside, "secret"), "utf8")).toBe("outside")
    expect(fs.statSync(path.join(outside, "secret")).mode & 0o7777).toBe(0o600)
    // The republish found the target mounted: no second tmpfs stacked on it.
    expect(mountsUnder(target)).toHaveLength(1)
  })

  it("over --tmpfs-size-limit: a republish keeps the old files, a first publish fails, nothing mounted", async () => {
    const target = targetFor(node.kubelet, "uid-g1")
    const version = fs.readlinkSync(path.join(target, "..data"))
    // 17 files of one page each: 69,632 bytes on the tmpfs, over 65,536.
    const big = Array.from({ length: 17 }, (_, i) => ({ path: `f${i}`, contents: "x".repeat(4096) }))
    node.provider.onMount(respondFiles(big))
    const republish = await outcomeOf(node.csi().node.nodePublishVolume(publishWithGroup(target, "uid-g1", "3000")))
    // A failed republish of a mounted volume answers OK to kubelet; the files stay as they were.
    expect(republish.ok).toBe(true)
    expect(fs.readlinkSync(path.join(target, "..data"))).toBe(version)
    expect(readAs(3000, path.join(target, "token"))).toBe("t0k3n")
    expect(fs.readdirSync(target).some((name) => name.startsWith("f"))).toBe(false)

    const fresh = targetFor(node.kubelet, "uid-g2")
    const first = await outcomeOf(node.csi().node.nodePublishVolume(publishWithGroup(fresh, "uid-g2", "2000")))
    expect(typedReasonOf(first)).toBe("InvalidProviderResponse")
    expect(first.ok ? "" : first.details).toContain("--tmpfs-size-limit=65536")
    expect(first.ok ? "" : first.details).toContain("default/stress-spc")
    expect(mountsUnder(fresh)).toEqual([])
  })

  it("a rotation that fits alone but not beside the current version is refused before staging it", async () => {
    const target = targetFor(node.kubelet, "uid-g4")
    // 10 files of one page each: 40,960 bytes, under 65,536 alone, over it beside a first version of the same size.
    const pages = (text: string) =>
      Array.from({ length: 10 }, (_, i) => ({ path: `p${i}`, contents: text.repeat(4096) }))
    node.provider.onMount(respondFiles(pages("a")))
    expect((await outcomeOf(node.csi().node.nodePublishVolume(publishWithGroup(target, "uid-g4", "")))).ok).toBe(true)
    const version = fs.readlinkSync(path.join(target, "..data"))
    const eventsOfPod = () =>
      node.api.store
        .list(resourceByKind("Event")!, "default")
        .map((e) => e as unknown as { reason: string; message: string; involvedObject: { name: string } })
        .filter((e) => e.involvedObject.name === "pod-uid-g4")
    // The same content again needs no second version: nothing to fit, nothing refused.
    expect((await outcomeOf(node.csi().node.nodePublishVolume(publishWithGroup(target, "uid-g4", "")))).ok).toBe(true)
    expect(eventsOfPod()).toEqual([])
    node.provider.onMount(respondFiles(pages("b")))
    const republish = await outcomeOf(node.csi().node.nodePublishVolume(publishWithGroup(target, "uid-g4", "")))
    expect(republish.ok).toBe(true)
    expect(fs.readlinkSync(path.join(target, "..data"))).toBe(version)
    expect(fs.readFileSync(path.join(target, "p0"), "utf8")).toBe("a".repeat(4096))
    const warning = await eventually(() => {
      const found = eventsOfPod()[0]
      if (found === undefined) throw new Error("no Event for the pod yet")
      return found
    })
    expect(warning.reason).toBe("FileWriteError")
    expect(warning.message).toContain("does not fit beside the current version")
    expect(fs.readdirSync(target).filter((name) => name.startsWith("..") && name !== "..data")).toEqual([version])
  })

  it.each(["abc", "-1", "4294967296"])("volume_mount_group %j is InvalidRequest, nothing mounted", async (group) => {
    const target = targetFor(node.kubelet, "uid-g3")
    const outcome = await outcomeOf(node.csi().node.nodePublishVolume(publishWithGroup(target, "uid-g3", group)))
    expect(typedReasonOf(outcome)).toBe("InvalidRequest")
    expect(outcome.ok ? "" : outcome.details).toContain("volume_mount_group")
    expect(mountsUnder(target)).toEqual([])
  })
})

describe("the hardened tmpfs still counts as published (built driver, rotation poll interval 1h)", () => {
  let node: StressNode
  beforeAll(async () => {
    node = await startStressNode({ driverArgs: ["--rotation-poll-interval=1h"] })
  }, 60_000)
  afterAll(async () => node?.close())

  it("a republish within the poll interval skips the provider: the mount and its layout are recognized", async () => {
    node.provider.onMount(respondFiles([{ path: "a", contents: "1" }]))
    const target = targetFor(node.kubelet, "uid-s1")
    await node.csi().node.nodePublishVolume(publishWithGroup(target, "uid-s1", "2000"))
    const calls = node.provider.mountRequests().length
    const entry = findMountInText(fs.readFileSync("/proc/self/mountinfo", "utf8"), target)
    expect(entry._tag === "Some" ? entry.value.superOptions : "").toContain("size=98304k")
    await node.csi().node.nodePublishVolume(publishWithGroup(target, "uid-s1", "2000"))
    expect(node.provider.mountRequests().length).toBe(calls)
    expect(mountsUnder(target)).toHaveLength(1)
  })
})
