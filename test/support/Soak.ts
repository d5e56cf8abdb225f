// Soak: publish/unpublish cycles of one target through the real driver, checking after every unpublish that
// the tmpfs is gone, and sampling the driver's RSS and open file descriptors along the way. With the driver's
// inspector port (NODE_OPTIONS --inspect, set by the test), each sample first forces a full GC, so RSS and heap
// show retained memory.
import * as fs from "node:fs"
import * as path from "node:path"
import { expect } from "@effect/vitest"
import * as Yaml from "effect/encoding/Yaml"
import { repoRoot } from "./ChildProcess.js"
import { collectAndMeasure } from "./Inspector.js"
import { kubeletPublish, mountsUnder, statusKiB, targetFor, type StressNode } from "./StressHarness.js"
import { respondFiles } from "./TestProvider.js"

export interface SoakSample {
  readonly cycle: number
  /** VmRSS from /proc, read after the forced GC when there is an inspector port. */
  readonly rssKiB: number
  /** Peak RSS so far (VmHWM), which the forced GCs do not lower. */
  readonly peakKiB: number
  /** V8 heap in use after a forced full GC (KiB); only with an inspector port. */
  readonly heapKiB?: number
  readonly fds: number
  readonly elapsedMs: number
}

const openFds = (pid: number) => fs.readdirSync(`/proc/${pid}/fd`).length

export const runSoak = async (
  node: StressNode,
  cycles: number,
  sampleEvery: number,
  inspectorPort?: number
): Promise<ReadonlyArray<SoakSample>> => {
  node.provider.onMount(
    respondFiles([
      { path: "a", contents: "alpha" },
      { path: "d/b", contents: "beta".repeat(256) }
    ])
  )
  const target = targetFor(node.kubelet, "soak")
  const pid = node.driver().child.pid!
  const started = Date.now()
  const samples: Array<SoakSample> = []
  for (let cycle = 1; cycle <= cycles; cycle++) {
    await node.csi().node.nodePublishVolume(kubeletPublish(target, "soak"))
    await node.csi().node.nodeUnpublishVolume({ volumeId: "csi-soak", targetPath: target })
    if (fs.existsSync(target) || mountsUnder(node.kubelet).length > 0) {
      expect.fail(`cycle ${cycle}: the target or its tmpfs survived the unpublish`)
    }
    if (cycle % sampleEvery === 0 || cycle === 1) {
      const heap =
        inspectorPort === undefined ? undefined : Math.round((await collectAndMeasure(inspectorPort)).heapUsed / 1024)
      const memory = { rssKiB: statusKiB(pid, "VmRSS"), peakKiB: statusKiB(pid, "VmHWM") }
      const sample = { cycle, ...memory, fds: openFds(pid), elapsedMs: Date.now() - started }
      samples.push(heap === undefined ? sample : { ...sample, heapKiB: heap })
    }
  }
  return samples
}

/** Growth of a sampled quantity from the sample at cycle `from` to the last one, as a fraction. */
export const growth = (samples: ReadonlyArray<SoakSample>, from: number, of: (s: SoakSample) => number): number => {
  const base = of(samples.find((s) => s.cycle === from)!)
  return (of(samples.at(-1)!) - base) / base
}

interface Container {
  readonly name: string
  readonly env?: ReadonlyArray<{ readonly name: string; readonly value?: string }>
  readonly resources?: { readonly limits?: { readonly memory?: string } }
}

/** What manifests/base/daemonset.yaml gives the driver container: its NODE_OPTIONS and memory limit in KiB. */
export const deployedMemorySettings = (): { readonly nodeOptions: string; readonly limitKiB: number } => {
  const daemonSet = Yaml.parse(fs.readFileSync(path.join(repoRoot, "manifests", "base", "daemonset.yaml"), "utf8")) as {
    spec: { template: { spec: { containers: ReadonlyArray<Container> } } }
  }
  const driver = daemonSet.spec.template.spec.containers.find((c) => c.name === "secrets-store")!
  const limit = /^(\d+)Mi$/.exec(driver.resources?.limits?.memory ?? "")
  return {
    nodeOptions: driver.env?.find((e) => e.name === "NODE_OPTIONS")?.value ?? "",
    limitKiB: limit === null ? Number.NaN : Number(limit[1]) * 1024
  }
}
