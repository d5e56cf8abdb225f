// Each program's own V8 settings, applied before the program loads: heap limits and the JIT are fixed once the
// isolate exists, so the process re-executes itself once (execve: same pid, no second process) with them in front of
// the operator's NODE_OPTIONS, where the operator's value for the same flag comes later and wins.
// Node builtins only: this runs before any other module of the bundle is evaluated.

export interface RuntimeTuning {
  /** Flags Node accepts in NODE_OPTIONS: put before the operator's NODE_OPTIONS, so theirs win. */
  readonly nodeOptions: ReadonlyArray<string>
  /** V8 flags NODE_OPTIONS refuses (an operator could not set them there either): on the command line. */
  readonly execArgv: ReadonlyArray<string>
}

// The figures behind each choice: `npm run bench` prints the matrix (bench/flagMatrix.ts). --lite-mode (V8's
// memory-for-speed trade: interpreter only, as --jitless, plus lazier feedback vectors and size-optimized heuristics)
// measured below --jitless in RSS and in CPU per no-op republish; without either, the JIT's code space doubled RSS
// with 400 volumes (159 vs 77 MiB). NODE_OPTIONS refuses --lite-mode, so it goes on the command line.
/** The node plugin: small heap collected early, small young generation, no JIT. */
export const driverTuning: RuntimeTuning = {
  nodeOptions: ["--max-old-space-size=96", "--max-semi-space-size=1"],
  execArgv: ["--lite-mode"]
}

/** The reference provider: one small store file, a few calls per publish. */
export const referenceProviderTuning: RuntimeTuning = {
  nodeOptions: ["--max-old-space-size=64", "--max-semi-space-size=1"],
  execArgv: ["--lite-mode"]
}

/**
 * The SecretSync controller: one Deployment replica whose heap holds the decoded SecretSyncs, the SPC generations and
 * the last applied Secret per SecretSync (its Deployment's limit is 128 Mi).
 */
export const syncControllerTuning: RuntimeTuning = {
  nodeOptions: ["--max-old-space-size=80", "--max-semi-space-size=1"],
  execArgv: ["--lite-mode"]
}

/** The CLI: short-lived commands, where a second Node start would cost more than the memory it saves. */
export const cliTuning: RuntimeTuning = { nodeOptions: [], execArgv: [] }

/**
 * Set on the re-executed process: the NODE_OPTIONS it was started with before tuning ("" when there were none). Its
 * presence says "tuned"; the tuned process puts that value back, so its own children (mount(8), kubeconfig exec
 * credential plugins) see the operator's environment, not the driver's flags.
 */
export const operatorNodeOptionsVariable = "SECRETS_STORE_OPERATOR_NODE_OPTIONS"

/** What the re-executed process gets: command line and environment. Pure, for tests. */
export const tunedExec = (
  tuning: RuntimeTuning,
  current: {
    readonly execPath: string
    readonly execArgv: ReadonlyArray<string>
    readonly argv: ReadonlyArray<string>
  },
  env: Readonly<Record<string, string | undefined>>
): { readonly args: ReadonlyArray<string>; readonly env: Record<string, string> } => {
  const operator = env["NODE_OPTIONS"] ?? ""
  const nodeOptions = [...tuning.nodeOptions, ...(operator.trim() === "" ? [] : [operator])].join(" ")
  const nextEnv: Record<string, string> = {}
  for (const [key, value] of Object.entries(env)) if (value !== undefined) nextEnv[key] = value
  nextEnv["NODE_OPTIONS"] = nodeOptions
  nextEnv[operatorNodeOptionsVariable] = operator
  // The operator's own command-line flags (`node --flag <bin>`) come after ours, so they win too.
  const args = [current.execPath, ...tuning.execArgv, ...current.execArgv, ...current.argv.slice(1)]
  return { args, env: nextEnv }
}

const isEmpty = (tuning: RuntimeTuning) => tuning.nodeOptions.length === 0 && tuning.execArgv.length === 0

/**
 * Re-executes the process with `tuning` unless it already runs with it; in the tuned process, restores the
 * operator's NODE_OPTIONS. Where execve is missing (not Linux/macOS, a worker thread) the program runs untuned.
 */
export const applyTuning = (tuning: RuntimeTuning): void => {
  const operator = process.env[operatorNodeOptionsVariable]
  if (operator !== undefined) {
    if (operator === "") delete process.env["NODE_OPTIONS"]
    else process.env["NODE_OPTIONS"] = operator
    delete process.env[operatorNodeOptionsVariable]
    return
  }
  if (isEmpty(tuning) || typeof process.execve !== "function") return
  const exec = tunedExec(tuning, process, process.env)
  // Never returns on success; a failure (e.g. seccomp) leaves the program to run untuned.
  try {
    process.execve(process.execPath, [...exec.args], exec.env)
  } catch (error) {
    process.stderr.write(`runtime tuning skipped: re-executing node failed: ${String(error)}\n`)
  }
}
