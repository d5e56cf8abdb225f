// End to end, as on a node: the built driver and the reference provider as child processes, the
// fake API server holding the SecretProviderClass, kubelet's calls over the CSI socket, real tmpfs.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { connectCsi, publishRequest } from "../support/CsiClient.js"
import { eventually, startProgram, waitForFile, type RunningProcess } from "../support/ChildProcess.js"
import { FakeApiServer } from "../support/FakeApiServer.js"
import { resourceByKind } from "../support/FakeApiStore.js"

const SPC = {
  apiVersion: "secrets-store.csi.x-k8s.io/v1",
  kind: "SecretProviderClass",
  metadata: { name: "app-secrets", namespace: "default" },
  spec: {
    provider: "reference",
    parameters: {
      objects: "- objectName: db-password\n  mode: 0600\n- objectName: api-key\n  fileName: config/api-key\n"
    }
  }
}

const store = (password: string, version: string) =>
  JSON.stringify({
    "db-password": { contents: password, version },
    "api-key": { contents: "key-123", version: "1", mode: "0640" }
  })

let api: FakeApiServer
let dir: string
let driver: RunningProcess
let provider: RunningProcess
let csi: ReturnType<typeof connectCsi>
const socket = () => path.join(dir, "csi.sock")
const storeFile = () => path.join(dir, "store.json")
const target = () => path.join(dir, "kubelet", "pods", "uid-1", "volumes", "kubernetes.io~csi", "secrets", "mount")

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-publish-"))
  fs.mkdirSync(path.join(dir, "providers"))
  fs.writeFileSync(storeFile(), store("hunter2", "1"))
  api = await FakeApiServer.start()
  api.seed(SPC)
  provider = startProgram("reference-provider/main.js", [
    `--provider-dir=${path.join(dir, "providers")}`,
    "--name=reference",
    `--store=${storeFile()}`
  ])
  await waitForFile(path.join(dir, "providers", "reference.sock"))
  driver = startProgram("main.js", [
    `--endpoint=unix://${socket()}`,
    `--kubelet-root-dir=${path.join(dir, "kubelet")}`,
    "--nodeid=node-a",
    "--metrics-addr=127.0.0.1:0",
    `--kubeconfig=${api.kubeconfigPath}`,
    `--provider-volume=${path.join(dir, "providers")}`,
    "--additional-provider-volume-paths=",
    "--enable-secret-rotation=true",
    "--rotation-poll-interval=1s",
    "-v=5"
  ])
  csi = connectCsi(socket())
  await eventually(() => csi.identity.probe({}), 15_000)
})

afterAll(async () => {
  csi?.close()
  await driver?.stop()
  await provider?.stop()
  await api?.stop()
})

const mountinfo = () => fs.readFileSync("/proc/self/mountinfo", "utf8")
const kubeletPublish = () =>
  csi.node.nodePublishVolume(
    publishRequest({
      targetPath: target(),
      volumeContext: {
        ...publishRequest().volumeContext,
        secretProviderClass: "app-secrets",
        "csi.storage.k8s.io/serviceAccount.tokens": JSON.stringify({
          "": { token: "jwt-aaa.bbb.ccc", expirationTimestamp: "2030-01-01T00:00:00Z" }
        })
      }
    })
  )

describe("publish end to end (driver + reference provider + fake API server)", () => {
  it("a kubelet-style publish puts the files on a tmpfs with the ..data layout and their modes", async () => {
    fs.mkdirSync(path.dirname(target()), { recursive: true })
    await kubeletPublish()
    expect(mountinfo()).toMatch(new RegExp(`${target().replace(/[~.]/g, "\\$&")} .* - tmpfs `))
    expect(fs.readFileSync(path.join(target(), "db-password"), "utf8")).toBe("hunter2")
    expect(fs.readFileSync(path.join(target(), "config", "api-key"), "utf8")).toBe("key-123")
    expect(fs.lstatSync(path.join(target(), "..data")).isSymbolicLink()).toBe(true)
    expect(fs.readlinkSync(path.join(target(), "db-password"))).toBe("..data/db-password")
    expect(fs.statSync(path.join(target(), "db-password")).mode & 0o777).toBe(0o600)
    expect(fs.statSync(path.join(target(), "config", "api-key")).mode & 0o777).toBe(0o640)
  })

  it("records a SecretProviderClassPodStatus with the object versions", async () => {
    const statuses = api.store.list(resourceByKind("SecretProviderClassPodStatus")!)
    expect(statuses).toHaveLength(1)
    const status = statuses[0] as unknown as {
      metadata: { name: string; labels: Record<string, string>; ownerReferences: Array<{ kind: string; uid: string }> }
      status: { objects: Array<{ id: string; version: string }>; mounted: boolean }
    }
    expect(status.metadata.name).toBe("pod-1-default-app-secrets")
    expect(status.metadata.labels["internal.secrets-store.csi.k8s.io/node-name"]).toBe("node-a")
    expect(status.metadata.ownerReferences).toEqual([{ apiVersion: "v1", kind: "Pod", name: "pod-1", uid: "uid-1" }])
    expect(status.status.mounted).toBe(true)
    expect(status.status.objects).toEqual([
      { id: "secret/api-key", version: "1" },
      { id: "secret/db-password", version: "1" }
    ])
  })

  it("a store change followed by a republish after the poll interval rotates the files atomically", async () => {
    const before = fs.readlinkSync(path.join(target(), "..data"))
    fs.writeFileSync(storeFile(), store("rotated-pw", "2"))
    await new Promise((resolve) => setTimeout(resolve, 1100))
    await kubeletPublish()
    expect(fs.readFileSync(path.join(target(), "db-password"), "utf8")).toBe("rotated-pw")
    expect(fs.readlinkSync(path.join(target(), "..data"))).not.toBe(before)
    expect(fs.existsSync(path.join(target(), before))).toBe(false)
    const status = api.store.list(resourceByKind("SecretProviderClassPodStatus")!)[0] as unknown as {
      status: { objects: Array<{ id: string; version: string }> }
    }
    expect(status.status.objects).toContainEqual({ id: "secret/db-password", version: "2" })
  })

  it("unpublish removes the mount and the directory; a second unpublish succeeds", async () => {
    await csi.node.nodeUnpublishVolume({ volumeId: "csi-0123456789abcdef", targetPath: target() })
    expect(mountinfo()).not.toContain(target())
    expect(fs.existsSync(target())).toBe(false)
    await csi.node.nodeUnpublishVolume({ volumeId: "csi-0123456789abcdef", targetPath: target() })
  })

  it("never logs a secret value or a token, even at -v=5", () => {
    const logs = driver.output() + provider.output()
    expect(logs).toContain("NodePublishVolume")
    for (const secret of ["hunter2", "rotated-pw", "key-123", "jwt-aaa.bbb.ccc"]) expect(logs).not.toContain(secret)
  })
})
