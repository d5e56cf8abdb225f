// The built reference provider as a child process: it listens on <dir>/<name>.sock, and SIGTERM drains it,
// removes its socket and exits 0 like the driver (an interruption is a normal end, not 130).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type RunningProcess, startProgram, waitForFile } from "../support/ChildProcess.js"

let running: RunningProcess | undefined

afterEach(async () => {
  await running?.stop("SIGKILL")
  running = undefined
})

describe("secrets-store-reference-provider", () => {
  it("removes its socket and exits 0 on SIGTERM", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reference-e2e-"))
    const store = path.join(dir, "store.yaml")
    fs.writeFileSync(store, "a:\n  contents: secret-a\n  version: v1\n")
    running = startProgram("reference-provider/main.js", ["--provider-dir", dir, "--name", "ref", "--store", store])
    const socket = path.join(dir, "ref.sock")
    await waitForFile(socket)
    const exit = await running.stop("SIGTERM")
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null })
    expect(fs.existsSync(socket)).toBe(false)
  })
})
