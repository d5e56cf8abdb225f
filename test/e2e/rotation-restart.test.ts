// Rotation an application can act on, end to end: two built drivers (node-a, node-b), the reference provider and
// the fake API server holding a Deployment -> ReplicaSet -> Pods chain, a StatefulSet pod and a bare pod, all
// mounting a SecretProviderClass annotated restart-on-rotation. A rotation gives one SecretRotated Event per pod
// and one patch per workload; the second node changes nothing; a rotation inside the cooldown is applied when it
// ends; the bare pod gets a RestartSkipped Warning; no secret value reaches an Event, a log line or a patch.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { restartDigest } from "../../src/publish/RotationChanges.js"
import { parsePrometheus, samplesOf } from "../metrics/parsePrometheus.js"
import { eventually, type RunningProcess, startProgram, waitForFile } from "../support/ChildProcess.js"
import { connectCsi, publishRequest } from "../support/CsiClient.js"
import { FakeApiServer } from "../support/FakeApiServer.js"
import { resourceByKind } from "../support/FakeApiStore.js"
import { patchesOf, type SeededPod, seedWorkloads, workload } from "../support/Workloads.js"

const NS = "apps"
const values = ["pw-ONE-value", "pw-TWO-value", "pw-THREE-value"]
const SPC = {
  apiVersion: "secrets-store.csi.x-k8s.io/v1",
  kind: "SecretProviderClass",
  metadata: { name: "db", namespace: NS, annotations: { "secrets-store.csi.k8s.io/restart-on-rotation": "true" } },
  spec: { provider: "reference", parameters: { objects: "- objectName: db-password\n  fileName: password\n" } }
}
const digestOf = (version: string) =>
  restartDigest({ namespace: NS, name: "db" }, [{ id: "secret/db-password", version }])

let dir: string
let api: FakeApiServer
let provider: RunningProcess
let pods: ReturnType<typeof seedWorkloads>
const nodes: Record<string, { driver: RunningProcess; csi: ReturnType<typeof connectCsi>; metrics: string }> = {}

const kubeletRoot = (node: string) => path.join(dir, node, "kubelet")
const targetFor = (node: string, pod: SeededPod) =>
  path.join(kubeletRoot(node), "pods", pod.uid, "volumes", "kubernetes.io~csi", "secrets", "mount")

const setVersion = (n: number) =>
  fs.writeFileSync(
    path.join(dir, "store.json"),
    JSON.stringify({ "db-password": { contents: values[n - 1], version: String(n) } })
  )

const startNode = async (node: string) => {
  fs.mkdirSync(kubeletRoot(node), { recursive: true })
  const driver = startProgram("main.js", [
    `--endpoint=unix://${dir}/${node}.sock`,
    `--nodeid=${node}`,
    "--metrics-addr=127.0.0.1:0",
    `--kubeconfig=${api.kubeconfigPath}`,
    `--provider-volume=${dir}/providers`,
    `--kubelet-root-dir=${kubeletRoot(node)}`,
    "--enable-secret-rotation",
    "--rotation-poll-interval=0s",
    "--restart-cooldown=4s",
    "-v=5"
  ])
  const csi = connectCsi(`${dir}/${node}.sock`)
  await eventually(() => csi.identity.probe({}), 15_000)
  const port = await eventually(() => {
    const match = /metrics server listening.*127\.0\.0\.1:(\d+)/.exec(driver.output())
    if (match === null) throw new Error("no metrics address logged yet")
    return match[1]
  })
  nodes[node] = { driver, csi, metrics: `http://127.0.0.1:${port}/metrics` }
}

/** kubelet's (re)publish of the pod's volume on that node. */
const publish = (node: string, pod: SeededPod) => {
  const target = targetFor(node, pod)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  return nodes[node]!.csi.node.nodePublishVolume(
    publishRequest({
      targetPath: target,
      volumeContext: {
        ...publishRequest().volumeContext,
        secretProviderClass: "db",
        "csi.storage.k8s.io/pod.name": pod.name,
        "csi.storage.k8s.io/pod.namespace": NS,
        "csi.storage.k8s.io/pod.uid": pod.uid
      }
    })
  )
}

const events = (reason: string, pod?: SeededPod) =>
  api.store
    .list(resourceByKind("Event")!, NS)
    .map((e) => e as unknown as { reason: string; type: string; message: string; involvedObject: { name: string } })
    .filter((e) => e.reason === reason && (pod === undefined || e.involvedObject.name === pod.name))

const restartCount = async (node: string, kind: string, result: string) => {
  const text = parsePrometheus(await (await fetch(nodes[node]!.metrics)).text())
  const sample = samplesOf(text, "rotation_restart_total").find(
    (s) => s.labels["kind"] === kind && s.labels["result"] === result
  )
  return sample?.value ?? 0
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-restart-"))
  fs.mkdirSync(path.join(dir, "providers"))
  setVersion(1)
  api = await FakeApiServer.start()
  api.seed(SPC)
  pods = seedWorkloads(api, NS)
  provider = startProgram("reference-provider/main.js", [
    `--provider-dir=${dir}/providers`,
    `--store=${dir}/store.json`
  ])
  await waitForFile(path.join(dir, "providers", "reference.sock"))
  await startNode("node-a")
  await startNode("node-b")
})

afterAll(async () => {
  for (const { csi, driver } of Object.values(nodes)) {
    csi.close()
    await driver.stop()
  }
  await provider?.stop()
  await api?.stop()
})

describe("rotation events and restart on rotation, end to end", () => {
  it("first mounts are no rotation: no SecretRotated Event, no patch", async () => {
    for (const pod of [pods.deployment, pods.statefulSet, pods.bare]) await publish("node-a", pod)
    await publish("node-b", pods.deployment2)
    await publish("node-a", pods.deployment)
    expect(events("SecretRotated")).toEqual([])
    expect(api.requestsMatching({ method: "PATCH" })).toEqual([])
  })

  it("a rotation gives one SecretRotated Event per pod and one patch per workload", async () => {
    setVersion(2)
    for (const pod of [pods.deployment, pods.statefulSet, pods.bare]) await publish("node-a", pod)
    await eventually(() => {
      expect(workload(api, "Deployment", NS, "web").annotation).toBe(digestOf("2"))
      expect(workload(api, "StatefulSet", NS, "db").annotation).toBe(digestOf("2"))
    }, 20_000)
    // Republished again with the same versions: no news.
    for (const pod of [pods.deployment, pods.statefulSet, pods.bare]) await publish("node-a", pod)
    await eventually(() => expect(events("SecretRotated")).toHaveLength(3), 20_000)
    for (const pod of [pods.deployment, pods.statefulSet, pods.bare]) {
      expect(events("SecretRotated", pod).map((e) => [e.type, e.message])).toEqual([
        ["Normal", "SecretProviderClass apps/db rotated: secret/db-password: 1 -> 2"]
      ])
    }
    expect(patchesOf(api, "deployments", NS, "web")).toHaveLength(1)
    expect(patchesOf(api, "statefulsets", NS, "db")).toHaveLength(1)
  })

  it("the bare pod gets a RestartSkipped Warning saying why", async () => {
    const [warning] = await eventually(() => {
      const found = events("RestartSkipped", pods.bare)
      expect(found).toHaveLength(1)
      return found
    }, 20_000)
    expect(warning!.type).toBe("Warning")
    expect(warning!.message).toBe(
      "not restarted after SecretProviderClass apps/db rotated: the pod has no controller: a bare pod is not restarted"
    )
    await eventually(async () => expect(await restartCount("node-a", "Pod", "unsupported")).toBe(1))
  })

  it("another node rotating the same versions changes nothing", async () => {
    const before = workload(api, "Deployment", NS, "web").resourceVersion
    await publish("node-b", pods.deployment2)
    await eventually(async () => expect(await restartCount("node-b", "Deployment", "unchanged")).toBe(1), 20_000)
    expect(events("SecretRotated", pods.deployment2)).toHaveLength(1)
    expect(patchesOf(api, "deployments", NS, "web")).toHaveLength(1)
    expect(workload(api, "Deployment", NS, "web").resourceVersion).toBe(before)
  })

  it("a rotation inside the cooldown is deferred, then applied with its versions when the cooldown ends", async () => {
    setVersion(3)
    await publish("node-a", pods.deployment)
    await eventually(async () => expect(await restartCount("node-a", "Deployment", "deferred")).toBe(1), 20_000)
    expect(patchesOf(api, "deployments", NS, "web")).toHaveLength(1)
    await eventually(() => expect(workload(api, "Deployment", NS, "web").annotation).toBe(digestOf("3")), 30_000)
    expect(patchesOf(api, "deployments", NS, "web")).toHaveLength(2)
    expect(await restartCount("node-a", "Deployment", "restarted")).toBe(2)
  })

  it("no secret value appears in any Event, log line or patch", () => {
    const texts = [
      JSON.stringify(api.store.list(resourceByKind("Event")!, NS)),
      JSON.stringify(api.requestsMatching({ method: "PATCH" }).map((r) => r.body)),
      ...Object.values(nodes).map((n) => n.driver.output())
    ]
    for (const text of texts) for (const value of values) expect(text).not.toContain(value)
    expect(nodes["node-a"]!.driver.output()).toContain("restarted workload after rotation")
  })
})
