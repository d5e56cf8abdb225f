// `secrets-store sync` as a child process against the built reference provider: the Secret the controller would
// write, values redacted unless --show-values; a bad SecretSync is exit 1 with the reason, before any call.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningProcess, runProgram, startProgram, waitForFile } from "../support/ChildProcess.js"
import { secretSync, spc, storeYaml } from "../sync-controller/world.js"

let dir: string
let provider: RunningProcess
beforeAll(async () => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cli-sync-")))
  fs.writeFileSync(path.join(dir, "store.yaml"), storeYaml("s3cret"))
  fs.writeFileSync(path.join(dir, "spc.json"), JSON.stringify(spc()))
  provider = startProgram("reference-provider/main.js", [
    "--provider-dir",
    dir,
    "--name",
    "reference",
    "--store",
    path.join(dir, "store.yaml")
  ])
  await waitForFile(path.join(dir, "reference.sock"), 20_000)
})
afterAll(async () => {
  await provider.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const run = (ss: unknown, ...extra: Array<string>) => {
  const file = path.join(dir, `ss-${Math.random().toString(36).slice(2)}.json`)
  fs.writeFileSync(file, JSON.stringify(ss))
  return runProgram("cli/main.js", [
    "sync",
    "--secretsync",
    file,
    "--class",
    path.join(dir, "spc.json"),
    "--provider-dir",
    dir,
    ...extra
  ])
}

describe("secrets-store sync", () => {
  it("prints the Secret: type, labels, owner, keys with sizes, values redacted", async () => {
    const { code, output } = await run(secretSync("db"))
    expect(code).toBe(0)
    expect(output).toContain(
      "secret apps/db type Opaque (server-side apply, field manager secrets-store-sync-controller)"
    )
    expect(output).toContain("labels: team=payments, secrets-store.sync.x-k8s.io=")
    expect(output).toMatch(/user {2}3 bytes {2}<redacted>/)
    expect(output).toMatch(/pass {2}6 bytes {2}<redacted>/)
    expect(output).not.toContain("s3cret")
  })
  it("--show-values prints them", async () => {
    const { code, output } = await run(secretSync("db"), "--show-values")
    expect(code).toBe(0)
    expect(output).toContain(`"s3cret"`)
  })
  it("a sourcePath the provider does not return: exit 1, the typed reason first", async () => {
    const { code, output } = await run(
      secretSync("db", { secretObject: { type: "Opaque", data: [{ sourcePath: "nope", targetKey: "k" }] } })
    )
    expect(code).toBe(1)
    expect(output).toMatch(/^InvalidRequest: secretsync apps\/db: file matching sourcePath nope not found/m)
  })
  it("a SecretSync the CRD would refuse: exit 1 naming the rule", async () => {
    const { code, output } = await run(
      secretSync("db", { secretObject: { type: "Opaque", data: [{ sourcePath: "a.b", targetKey: "k" }] } })
    )
    expect(code).toBe(1)
    expect(output).toContain("spec.secretObject.data[0].sourcePath")
  })
})
