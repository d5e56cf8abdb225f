// A minimal Chrome DevTools protocol client for the driver's own inspector (--enable-pprof opens it on
// 127.0.0.1:--pprof-port): one WebSocket session, request/response by id, over loopback only.
import * as net from "node:net"

export interface InspectorSession {
  readonly call: <A = unknown>(method: string, params?: Record<string, unknown>) => Promise<A>
  readonly close: () => void
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

export const openInspector = async (port: number): Promise<InspectorSession> => {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{
    webSocketDebuggerUrl: string
  }>
  const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl)
  await new Promise((resolve, reject) => {
    ws.onopen = resolve
    ws.onerror = reject
  })
  let id = 0
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>()
  ws.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } }
    if (message.id === undefined) return
    const waiter = pending.get(message.id)
    pending.delete(message.id)
    if (message.error !== undefined) waiter?.reject(new Error(message.error.message))
    else waiter?.resolve(message.result)
  }
  return {
    call: <A>(method: string, params: Record<string, unknown> = {}) =>
      new Promise<A>((resolve, reject) => {
        pending.set(++id, { resolve: resolve as (result: unknown) => void, reject })
        ws.send(JSON.stringify({ id, method, params }))
      }),
    close: () => ws.close()
  }
}

/** Heap in use after HeapProfiler.collectGarbage (live data), and the heap's total size. */
export const inspectHeap = async (port: number): Promise<{ usedMiB: number; totalMiB: number }> => {
  const session = await openInspector(port)
  try {
    await session.call("HeapProfiler.collectGarbage")
    const usage = await session.call<{ usedSize: number; totalSize: number }>("Runtime.getHeapUsage")
    return { usedMiB: usage.usedSize / 2 ** 20, totalMiB: usage.totalSize / 2 ** 20 }
  } finally {
    session.close()
  }
}
