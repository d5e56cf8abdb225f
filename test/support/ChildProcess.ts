// Runs one of this project's built programs as a real child process, as kubelet's node would: the shipped entry
// (package.json's bin, the bundle in dist/bin/), its output collected, its socket waited for, stopped with a signal.
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

// The programs by the src/ main they are built from (how the tests name them), to their bin names.
const binOf: Record<string, string> = {
  "main.js": "secrets-store-csi-driver",
  "cli/main.js": "secrets-store",
  "reference-provider/main.js": "secrets-store-reference-provider",
  "sync-controller/main.js": "secrets-store-sync-controller"
}
const manifest = fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")
const bins = (JSON.parse(manifest) as { bin: Record<string, string> }).bin

/** The shipped entry of a program: what package.json's bin (npx, node_modules/.bin, the image) runs. */
export const distMain = (relative: string) => {
  const bin = bins[binOf[relative] ?? ""]
  if (bin === undefined) throw new Error(`no package.json bin entry for the program built from src/${relative}`)
  return path.join(repoRoot, bin)
}

export interface RunningProcess {
  readonly child: ChildProcess
  /** Everything the process wrote so far, stdout and stderr interleaved. */
  readonly output: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly stop: (signal?: NodeJS.Signals) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export const startProgram = (
  relativeMain: string,
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv = {}
): RunningProcess => {
  const child = spawn(process.execPath, [distMain(relativeMain), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    return exited
  }
  return { child, output: () => output, exited, stop }
}

/** Runs a program to completion and returns its exit code and output. */
export const runProgram = async (relativeMain: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) => {
  const running = startProgram(relativeMain, args, env)
  const { code } = await running.exited
  return { code, output: running.output() }
}

/** Polls until `check` passes or the time is up; the last failure is rethrown. */
export const eventually = async <A>(check: () => Promise<A> | A, timeoutMs = 10_000, everyMs = 25): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  }
}

export const waitForFile = (file: string, timeoutMs = 10_000) =>
  eventually(() => {
    if (!fs.existsSync(file)) throw new Error(`${file} did not appear within ${timeoutMs} ms`)
  }, timeoutMs)
