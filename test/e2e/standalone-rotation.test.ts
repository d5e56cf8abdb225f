// Rotation in standalone mode (no API server), end to end with the built driver and the reference provider: the
// driver logs the SecretRotated Event it would emit and, for a class annotated restart-on-rotation, the
// restartedAt value it would write; a rotation that changed nothing logs neither; no secret value is logged.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { restartDigest } from "../../src/publish/RotationChanges.js"
import { eventually, type RunningProcess, startProgram, waitForFile } from "../support/ChildProcess.js"
import { connectCsi, publishRequest } from "../support/CsiClient.js"

const values = ["standalone-ONE", "standalone-TWO"]
let dir: string
let provider: RunningProcess
let driver: RunningProcess
let csi: ReturnType<typeof connectCsi>

const classYaml = (name: string, restart: boolean) =>
  "apiVersion: secrets-store.csi.x-k8s.io/v1\nkind: SecretProviderClass\n" +
  `metadata:\n  name: ${name}\n  namespace: default\n` +
  (restart ? '  annotations:\n    secrets-store.csi.k8s.io/restart-on-rotation: "true"\n' : "") +
  "spec:\n  provider: reference\n  parameters:\n    objects: |\n      - objectName: db-password\n" +
  "        fileName: password\n"

const setVersion = (n: number) =>
  fs.writeFileSync(
    path.join(dir, "store.json"),
    JSON.stringify({ "db-password": { contents: values[n - 1], version: String(n) } })
  )

const target = (pod: string) =>
  path.join(dir, "kubelet", "pods", `uid-${pod}`, "volumes", "kubernetes.io~csi", "secrets", "mount")

const publish = (pod: string, spc: string) => {
  fs.mkdirSync(path.dirname(target(pod)), { recursive: true })
  return csi.node.nodePublishVolume(
    publishRequest({
      targetPath: target(pod),
      volumeContext: {
        ...publishRequest().volumeContext,
        secretProviderClass: spc,
        "csi.storage.k8s.io/pod.name": pod,
        "csi.storage.k8s.io/pod.namespace": "default",
        "csi.storage.k8s.io/pod.uid": `uid-${pod}`
      }
    })
  )
}

const rotationLines = () =>
  driver
    .output()
    .split("\n")
    .filter((line) => line.includes('"secrets rotated"'))

beforeAll(async () => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "e2e-standalone-rotation-")))
  for (const sub of ["providers", "classes", "kubelet"]) fs.mkdirSync(path.join(dir, sub))
  fs.writeFileSync(path.join(dir, "classes", "db.yaml"), classYaml("db", true))
  fs.writeFileSync(path.join(dir, "classes", "plain.yaml"), classYaml("plain", false))
  setVersion(1)
  provider = startProgram("reference-provider/main.js", [
    `--provider-dir=${dir}/providers`,
    `--store=${dir}/store.json`
  ])
  await waitForFile(path.join(dir, "providers", "reference.sock"))
  driver = startProgram("main.js", [
    `--endpoint=unix://${dir}/csi.sock`,
    "--nodeid=node-standalone",
    "--metrics-addr=127.0.0.1:0",
    `--standalone-classes=${dir}/classes`,
    `--provider-volume=${dir}/providers`,
    "--additional-provider-volume-paths=",
    `--kubelet-root-dir=${dir}/kubelet`,
    "--enable-secret-rotation",
    "--rotation-poll-interval=0s"
  ])
  csi = connectCsi(`${dir}/csi.sock`)
  await eventually(() => csi.identity.probe({}), 15_000)
}, 60_000)

afterAll(async () => {
  csi?.close()
  await driver?.stop()
  await provider?.stop()
})

describe("standalone rotation notices (built driver, no API server)", () => {
  it("logs the Event text and the restartedAt value it would write, only for a rotation that changed it", async () => {
    await publish("web-0", "db")
    await publish("plain-0", "plain")
    await publish("web-0", "db")
    await publish("plain-0", "plain")
    expect(rotationLines()).toEqual([])

    setVersion(2)
    await publish("web-0", "db")
    await publish("plain-0", "plain")
    const lines = await eventually(() => {
      const found = rotationLines()
      if (found.length < 2) throw new Error(`rotation lines so far: ${found.length}`)
      return found
    })
    const digest = restartDigest({ namespace: "default", name: "db" }, [{ id: "secret/db-password", version: "2" }])
    const db = lines.find((line) => line.includes("SecretProviderClass default/db rotated"))
    const plain = lines.find((line) => line.includes("SecretProviderClass default/plain rotated"))
    expect(db).toContain("secret/db-password: 1 -> 2")
    expect(db).toContain(digest)
    expect(plain).toContain("secret/db-password: 1 -> 2")
    expect(plain).not.toContain("restartedAt")
    for (const value of values) expect(driver.output()).not.toContain(value)
  })
})
