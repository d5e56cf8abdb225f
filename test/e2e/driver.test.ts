// The built driver as a child process, called over its unix socket the way kubelet calls it.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { ClientError, Status } from "nice-grpc"
import { connectCsi, publishRequest } from "../support/CsiClient.js"
import { eventually, runProgram, startProgram, type RunningProcess } from "../support/ChildProcess.js"

const DRIVER = "main.js"
const running: Array<RunningProcess> = []
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop("SIGKILL")))
})

const startDriver = async (args: ReadonlyArray<string>) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-driver-"))
  const socket = path.join(dir, "csi.sock")
  const driver = startProgram(DRIVER, [
    `--endpoint=unix://${socket}`,
    `--kubelet-root-dir=${dir}`,
    "--metrics-addr=127.0.0.1:0",
    ...args
  ])
  running.push(driver)
  const csi = connectCsi(socket)
  await eventually(() => csi.identity.probe({}), 15_000)
  return { dir, socket, driver, csi }
}

describe("secrets-store-csi-driver (child process)", () => {
  it("--help lists every upstream flag and exits 0", async () => {
    const { code, output } = await runProgram(DRIVER, ["--help"])
    expect(code).toBe(0)
    for (const flag of [
      "endpoint",
      "drivername",
      "nodeid",
      "provider-volume",
      "additional-provider-volume-paths",
      "metrics-addr",
      "enable-secret-rotation",
      "rotation-poll-interval",
      "max-call-recv-msg-size",
      "provider-health-check",
      "provider-health-check-interval",
      "log-format-json",
      "kubeconfig",
      "version",
      "provider-timeout"
    ]) {
      expect(output).toContain(flag)
    }
  })

  it("--version prints upstream's JSON", async () => {
    const { code, output } = await runProgram(DRIVER, ["--version"])
    expect(code).toBe(0)
    const version = JSON.parse(output) as Record<string, string>
    expect(Object.keys(version).sort()).toEqual(["BuildDate", "BuildVersion", "GitCommit"])
    expect(version["BuildVersion"]).toMatch(/^v\d+\.\d+\.\d+/)
  })

  it.each([
    [["--endpoint", "foo"], "--endpoint"],
    [["--rotation-poll-interval=-1s"], "--rotation-poll-interval"],
    [["--no-such-flag"], "no-such-flag"]
  ])("rejects bad flags %j with one clear line and a non-zero exit", async (args, named) => {
    const { code, output } = await runProgram(DRIVER, args)
    expect(code).not.toBe(0)
    const lines = output.trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(named)
  })

  it("serves Identity and Node, validates like upstream, and stops cleanly on SIGTERM", async () => {
    const { socket, driver, csi } = await startDriver(["--nodeid=n1", "--drivername=secrets-store.csi.k8s.io"])
    const info = await csi.identity.getPluginInfo({})
    expect(info.name).toBe("secrets-store.csi.k8s.io")
    expect(info.vendorVersion).toMatch(/^v\d+\.\d+\.\d+/)
    expect((await csi.node.nodeGetInfo({})).nodeId).toBe("n1")
    const error = await csi.node.nodePublishVolume(publishRequest({ volumeContext: {} })).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ClientError)
    expect((error as ClientError).code).toBe(Status.INVALID_ARGUMENT)
    csi.close()
    const exit = await driver.stop("SIGTERM")
    expect(exit.code).toBe(0)
    expect(fs.existsSync(socket)).toBe(false)
  })

  it("unpublishes a real tmpfs target, and a second unpublish still succeeds", async () => {
    const { dir, driver, csi } = await startDriver(["--nodeid=n1"])
    const target = path.join(dir, "pods", "uid-1", "volumes", "kubernetes.io~csi", "secrets", "mount")
    fs.mkdirSync(target, { recursive: true })
    execFileSync("mount", ["-t", "tmpfs", "tmpfs", target])
    fs.writeFileSync(path.join(target, "secret"), "value")
    await csi.node.nodeUnpublishVolume({ volumeId: "csi-1", targetPath: target })
    expect(fs.existsSync(target)).toBe(false)
    expect(fs.readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(target)
    await csi.node.nodeUnpublishVolume({ volumeId: "csi-1", targetPath: target })
    csi.close()
    await driver.stop("SIGTERM")
  })
})
