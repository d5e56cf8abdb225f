// Runs one of this project's built programs (dist/) as a real child process, as kubelet's node
// would: collects its output, waits for its socket, and stops it with a signal.
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
export const distMain = (relative: string) => path.join(repoRoot, "dist", relative)

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
  child.stdout?.on("data", (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on("data", (chunk: Buffer) => { output += chunk.toString() })
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
