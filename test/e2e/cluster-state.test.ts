// Cluster state end to end: the built driver and reference provider as child processes, the fake
// API server holding a Pod, its ReplicaSet owner and an SPC with secretObjects. A scripted
// sequence (2 publishes, 1 failure, 1 rotation, 1 sync, 1 unpublish) is checked against the
// Secret, the Warning Events and the exact counters of a /metrics scrape.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { parsePrometheus, samplesOf } from "../metrics/parsePrometheus.js"
import { connectCsi, publishRequest } from "../support/CsiClient.js"
import { eventually, startProgram, waitForFile, type RunningProcess } from "../support/ChildProcess.js"
import { FakeApiServer } from "../support/FakeApiServer.js"
import { resourceByKind } from "../support/FakeApiStore.js"

const NS = "default"
const SPC = {
  apiVersion: "secrets-store.csi.x-k8s.io/v1",
  kind: "SecretProviderClass",
  metadata: { name: "db", namespace: NS },
  spec: {
    provider: "reference",
    parameters: { objects: "- objectName: db-password\n  fileName: password\n" },
    secretObjects: [
      {
        secretName: "db-credentials",
        type: "Opaque",
        labels: { app: "web" },
        data: [{ objectName: "password", key: "password" }]
      }
    ]
  }
}

let api: FakeApiServer
let dir: string
let driver: RunningProcess
let provider: RunningProcess
let csi: ReturnType<typeof connectCsi>
let metricsUrl: string

const kubeletRoot = () => path.join(dir, "kubelet")
const targetFor = (uid: string) =>
  path.join(kubeletRoot(), "pods", uid, "volumes", "kubernetes.io~csi", "secrets", "mount")
const uids = new Map<string, string>()
const pod = (name: string) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name,
    namespace: NS,
    ownerReferences: [
      { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-5d8f", uid: "rs-uid-1", controller: true }
    ]
  },
  spec: {
    nodeName: "node-a",
    volumes: [
      {
        name: "secrets",
        csi: { driver: "secrets-store.csi.k8s.io", readOnly: true, volumeAttributes: { secretProviderClass: "db" } }
      }
    ]
  },
  status: { phase: "Running" }
})

const publish = (name: string, uid = uids.get(name)!, spc = "db") => {
  fs.mkdirSync(path.dirname(targetFor(uid)), { recursive: true })
  return csi.node.nodePublishVolume(
    publishRequest({
      targetPath: targetFor(uid),
      volumeContext: {
        ...publishRequest().volumeContext,
        secretProviderClass: spc,
        "csi.storage.k8s.io/pod.name": name,
        "csi.storage.k8s.io/pod.uid": uid,
        "csi.storage.k8s.io/serviceAccount.tokens": JSON.stringify({
          vault: { token: "tok-SECRET-jwt", expirationTimestamp: "2030-01-01T00:00:00Z" }
        })
      }
    })
  )
}

const scrape = async () => parsePrometheus(await (await fetch(metricsUrl)).text())
const counter = (text: Awaited<ReturnType<typeof scrape>>, name: string) =>
  samplesOf(text, name).map((s) => ({ ...s.labels, value: s.value }))

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-cluster-"))
  fs.mkdirSync(path.join(dir, "providers"))
  fs.writeFileSync(
    path.join(dir, "store.json"),
    JSON.stringify({ "db-password": { contents: "pw-ONE", version: "1" } })
  )
  api = await FakeApiServer.start()
  api.seed(SPC)
  // The API server assigns uids; kubelet's volume context and target paths carry the assigned ones.
  for (const name of ["web-1", "web-2"]) uids.set(name, String(api.seed(pod(name)).metadata["uid"]))
  provider = startProgram("reference-provider/main.js", [
    `--provider-dir=${dir}/providers`,
    `--store=${dir}/store.json`
  ])
  await waitForFile(path.join(dir, "providers", "reference.sock"))
  driver = startProgram("main.js", [
    `--kubelet-root-dir=${kubeletRoot()}`,
    `--endpoint=unix://${dir}/csi.sock`,
    "--nodeid=node-a",
    "--metrics-addr=127.0.0.1:0",
    `--kubeconfig=${api.kubeconfigPath}`,
    `--provider-volume=${dir}/providers`,
    `--kubelet-root-dir=${kubeletRoot()}`,
    "--enable-secret-rotation",
    "--rotation-poll-interval=1s",
    "-v=10"
  ])
  csi = connectCsi(`${dir}/csi.sock`)
  await eventually(() => csi.identity.probe({}), 15_000)
  const port = await eventually(() => {
    const match = /metrics server listening.*127\.0\.0\.1:(\d+)/.exec(driver.output())
    if (match === null) throw new Error("no metrics address logged yet")
    return match[1]
  })
  metricsUrl = `http://127.0.0.1:${port}/metrics`
})

afterAll(async () => {
  csi?.close()
  await driver?.stop()
  await provider?.stop()
  await api?.stop()
})

const secret = () =>
  api.store.get(resourceByKind("Secret")!, NS, "db-credentials") as unknown as
    | {
        metadata: {
          labels: Record<string, string>
          ownerReferences: Array<{ kind: string; name: string; uid: string }>
        }
        data: Record<string, string>
      }
    | undefined

describe("cluster state end to end", () => {
  it("two publishes sync one Secret owned by the pods' ReplicaSet", async () => {
    await publish("web-1")
    await publish("web-2")
    const synced = await eventually(() => {
      const s = secret()
      if (s === undefined) throw new Error("Secret not synced yet")
      return s
    }, 20_000)
    expect(Buffer.from(synced.data["password"]!, "base64").toString()).toBe("pw-ONE")
    expect(synced.metadata.labels).toEqual({ app: "web", "secrets-store.csi.k8s.io/managed": "true" })
    expect(synced.metadata.ownerReferences.map((o) => [o.kind, o.name, o.uid])).toEqual([
      ["ReplicaSet", "web-5d8f", "rs-uid-1"]
    ])
  })

  it("a failed publish leaves exactly one Warning Event with its reason", async () => {
    await expect(publish("web-1", "uid-9", "no-such-class")).rejects.toThrow(/SecretProviderClassNotFound/)
    const events = await eventually(() => {
      const found = api.store
        .list(resourceByKind("Event")!, NS)
        .filter((e) => (e as { reason?: string }).reason === "SecretProviderClassNotFound")
      if (found.length === 0) throw new Error("no event yet")
      return found
    })
    expect(events).toHaveLength(1)
    const event = events[0] as unknown as {
      type: string
      involvedObject: { kind: string; name: string }
      message: string
    }
    expect(event.type).toBe("Warning")
    expect(event.involvedObject).toMatchObject({ kind: "Pod", name: "web-1" })
    expect(event.message).toContain("default/no-such-class")
  })

  it("a rotation after the poll interval updates the files and the synced Secret", async () => {
    fs.writeFileSync(
      path.join(dir, "store.json"),
      JSON.stringify({ "db-password": { contents: "pw-TWO", version: "2" } })
    )
    await new Promise((resolve) => setTimeout(resolve, 1100))
    await publish("web-1")
    expect(fs.readFileSync(path.join(targetFor(uids.get("web-1")!), "password"), "utf8")).toBe("pw-TWO")
    await eventually(() => {
      expect(Buffer.from(secret()!.data["password"]!, "base64").toString()).toBe("pw-TWO")
    }, 20_000)
  })

  it("after one unpublish, /metrics carries exactly the scripted counts", async () => {
    await csi.node.nodeUnpublishVolume({ volumeId: "v", targetPath: targetFor(uids.get("web-2")!) })
    const text = await scrape()
    expect(counter(text, "node_publish_total")).toEqual([{ provider: "reference", os_type: "linux", value: 3 }])
    expect(counter(text, "node_publish_error_total")).toEqual([
      { provider: "", error_type: "SecretProviderClassNotFound", os_type: "linux", value: 1 }
    ])
    expect(counter(text, "rotation_reconcile_total")).toEqual([
      { provider: "reference", os_type: "linux", rotated: "true", value: 1 }
    ])
    expect(counter(text, "node_unpublish_total")).toEqual([{ os_type: "linux", value: 1 }])
    const synced = counter(text, "sync_k8s_secret_total")
    expect(synced).toHaveLength(1)
    expect(synced[0]).toMatchObject({ provider: "reference", os_type: "linux" })
    expect(synced[0]!.value).toBeGreaterThanOrEqual(2)
    expect(samplesOf(text, "sync_k8s_secret_duration_sec_count")[0]?.value).toBe(synced[0]!.value)
    await csi.node.nodeUnpublishVolume({ volumeId: "v", targetPath: targetFor(uids.get("web-1")!) })
  })

  it("the whole log at -v=10 holds no secret value and no token", () => {
    const logs = driver.output() + provider.output()
    expect(logs).toContain("GRPC call")
    for (const secretValue of ["pw-ONE", "pw-TWO", "tok-SECRET-jwt", Buffer.from("pw-ONE").toString("base64")]) {
      expect(logs).not.toContain(secretValue)
    }
  })
})
