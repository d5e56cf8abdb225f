// Reads what a running program's own V8 says about itself (its heap limit, its environment) through Node's
// inspector, opened by the test with `--inspect=127.0.0.1:<port>` (the programs never open one by themselves).

/** Evaluates `expression` (it must produce JSON text) in the inspected process's main context. */
export const evaluateIn = async (port: number, expression: string): Promise<unknown> => {
  const list = await fetch(`http://127.0.0.1:${port}/json/list`)
  const targets = (await list.json()) as Array<{ webSocketDebuggerUrl: string }>
  const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl)
  await new Promise((resolve, reject) => {
    socket.onopen = resolve
    socket.onerror = reject
  })
  try {
    const reply = await new Promise<{ result?: { result?: { value?: unknown } } }>((resolve, reject) => {
      socket.onmessage = (event) => resolve(JSON.parse(String(event.data)) as never)
      socket.onerror = reject
      socket.send(JSON.stringify({ id: 1, method: "Runtime.evaluate", params: { expression, returnByValue: true } }))
    })
    const value = reply.result?.result?.value
    if (typeof value !== "string") throw new Error(`no value from the inspector: ${JSON.stringify(reply)}`)
    return JSON.parse(value)
  } finally {
    socket.close()
  }
}

/** The effective runtime settings of the inspected process, as the tuning tests compare them. */
export interface RuntimeFacts {
  readonly pid: number
  readonly heapLimitMiB: number
  readonly jitless: boolean
  readonly execArgv: ReadonlyArray<string>
  readonly nodeOptions: string | null
  readonly tuningMarker: string | null
}

export const runtimeFacts = (port: number): Promise<RuntimeFacts> =>
  evaluateIn(
    port,
    `JSON.stringify({
    pid: process.pid,
    heapLimitMiB: process.getBuiltinModule("node:v8").getHeapStatistics().heap_size_limit / 1048576,
    jitless: typeof WebAssembly === "undefined",
    execArgv: process.execArgv,
    nodeOptions: process.env.NODE_OPTIONS ?? null,
    tuningMarker: process.env.SECRETS_STORE_OPERATOR_NODE_OPTIONS ?? null
  })`
  ) as Promise<RuntimeFacts>
