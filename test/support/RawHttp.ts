// Raw HTTP over a plain TCP socket, for requests no HTTP client would send: writes bytes, optionally half-closes,
// and collects what the server answers until it closes the connection (or a generous deadline passes).
import * as net from "node:net"

export interface RawExchange {
  /** Everything the server sent. */
  readonly data: string
  /** Whether the server ended the connection (false: the deadline passed with it still open). */
  readonly closed: boolean
}

export const rawExchange = (
  port: number,
  bytes: string | Buffer,
  options: { readonly end?: boolean; readonly timeoutMs?: number } = {}
): Promise<RawExchange> =>
  new Promise((resolve) => {
    let data = ""
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(bytes)
      if (options.end ?? true) socket.end()
    })
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ data, closed: false })
    }, options.timeoutMs ?? 60_000)
    socket.on("data", (chunk: Buffer) => {
      data += chunk.toString("latin1")
    })
    // A reset after the server's answer (it closed while we were still writing) counts as a close.
    socket.on("error", () => {})
    socket.on("close", () => {
      clearTimeout(timer)
      resolve({ data, closed: true })
    })
  })

/** The status codes of every response in a raw answer, in order. */
export const statusesOf = (data: string): ReadonlyArray<number> =>
  [...data.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((match) => Number(match[1]))
