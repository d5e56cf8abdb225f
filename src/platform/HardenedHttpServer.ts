// The driver's HTTP ports (metrics/health, pprof) on node:http, hardened for hostile clients: Node's limits set,
// the request target parsed without `new URL` (it throws), a bound on handlers in flight, a 400 for what the
// parser rejects, and a request listener that cannot throw. A handler is an effect answering with a Reply.
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { type EffectBridge, makeEffectBridge } from "./EffectBridge.js"
import { http } from "./nodeHttp.js"

export interface Reply {
  readonly status: number
  readonly contentType: string
  /** Chunks are written one by one, so a large body (a heap snapshot) is never joined into one string. */
  readonly body: string | ReadonlyArray<string>
  readonly headers?: Readonly<Record<string, string>>
}

export interface HttpRequest {
  readonly method: string
  /** The raw path (not percent-decoded): routes compare it to fixed strings. */
  readonly path: string
  readonly query: URLSearchParams
}

export interface HttpLimits {
  /** Time to receive the request line and headers (slowloris), also for a connection that sends nothing. */
  readonly headersTimeoutMs: number
  /** Time to receive the whole request, body included. */
  readonly requestTimeoutMs: number
  /** Idle time of a kept-alive connection between requests. */
  readonly keepAliveTimeoutMs: number
  readonly maxHeaderBytes: number
  readonly maxHeadersCount: number
  /** Open sockets; further connections are closed at once. */
  readonly maxConnections: number
  /** Handlers running at once; further requests get 503. */
  readonly maxInFlight: number
}

export const DEFAULT_LIMITS: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 20_000,
  keepAliveTimeoutMs: 10_000,
  maxHeaderBytes: 8 * 1024,
  maxHeadersCount: 64,
  maxConnections: 256,
  maxInFlight: 64
}

export class HttpListenError extends Schema.TaggedError<HttpListenError>()("HttpListenError", {
  address: Schema.String,
  cause: Schema.Defect()
}) {}

const TEXT = "text/plain; charset=utf-8"

export const textReply = (status: number, body: string, contentType = TEXT): Reply => ({ status, contentType, body })

export const notFound: Reply = textReply(404, "404 page not found\n")

/**
 * The path and query of a request target: origin-form (`/p?q`) or absolute-form (`http://host/p?q`, which
 * HTTP/1.1 servers must accept). Anything else (`*`, `host:port`, garbage) is undefined: a 400.
 */
export const requestTarget = (target: string): Pick<HttpRequest, "path" | "query"> | undefined => {
  const absolute = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(target)
  if (absolute === null && !target.startsWith("/")) return undefined
  const rest = absolute === null ? target : target.slice(absolute[0].length)
  const originForm = rest.startsWith("/") ? rest : `/${rest}`
  const withoutFragment = originForm.split("#", 1)[0]!
  const q = withoutFragment.indexOf("?")
  return q < 0
    ? { path: withoutFragment, query: new URLSearchParams() }
    : { path: withoutFragment.slice(0, q), query: new URLSearchParams(withoutFragment.slice(q + 1)) }
}

/** A request that still has body bytes coming: answering it must close the connection, not wait for them. */
const bodyPending = (req: IncomingMessage) =>
  !req.complete && (req.headers["transfer-encoding"] !== undefined || (req.headers["content-length"] ?? "0") !== "0")

const send = (req: IncomingMessage, res: ServerResponse, reply: Reply) => {
  if (res.headersSent || res.destroyed) return
  const chunks = typeof reply.body === "string" ? [reply.body] : reply.body
  const length = chunks.reduce((total, chunk) => total + Buffer.byteLength(chunk), 0)
  res.writeHead(reply.status, {
    ...reply.headers,
    "content-type": reply.contentType,
    "content-length": length,
    ...(bodyPending(req) ? { connection: "close" } : {})
  })
  if (req.method !== "HEAD") for (const chunk of chunks) res.write(chunk)
  res.end()
}

/** What the parser rejects: 431 for oversized headers, 408 for a timeout, else 400; then the socket goes. */
const clientErrorStatus = (code: unknown) =>
  code === "HPE_HEADER_OVERFLOW"
    ? "431 Request Header Fields Too Large"
    : code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? "408 Request Timeout"
      : "400 Bad Request"

const makeServer = <R>(
  handle: (request: HttpRequest) => Effect.Effect<Reply, never, R>,
  limits: HttpLimits,
  bridge: EffectBridge<R>
): Server => {
  let inFlight = 0
  // Sockets with a response under way: a parse error there must not write a second status line into it.
  const answering = new WeakSet<Socket>()
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      connectionsCheckingInterval: 1_000
    },
    (req, res) => {
      try {
        answering.add(req.socket)
        res.once("close", () => answering.delete(req.socket))
        // The parser also takes HTTP/0.9-looking lines and "HTTP/2.0": only 1.0 and 1.1 are spoken here.
        if (req.httpVersion !== "1.1" && req.httpVersion !== "1.0") {
          return send(req, res, {
            ...textReply(400, "400 unsupported HTTP version\n"),
            headers: { connection: "close" }
          })
        }
        const target = requestTarget(req.url ?? "")
        if (target === undefined) return send(req, res, textReply(400, "400 bad request target\n"))
        if (inFlight >= limits.maxInFlight) {
          return send(req, res, { ...textReply(503, "too many requests in flight\n"), headers: { "retry-after": "1" } })
        }
        inFlight++
        let done = false
        const fiber = bridge.fork(handle({ method: req.method ?? "", ...target }))
        fiber.addObserver((exit) => {
          done = true
          inFlight--
          try {
            send(req, res, Exit.isSuccess(exit) ? exit.value : textReply(500, "internal error\n"))
          } catch {
            res.destroy()
          }
        })
        // A client that goes away abandons its handler (a profile stops, a shared probe loses an awaiter).
        res.once("close", () => done || fiber.interruptUnsafe())
      } catch {
        res.destroy()
      }
    }
  )
  server.maxHeadersCount = limits.maxHeadersCount
  server.maxConnections = limits.maxConnections
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    try {
      if (error.code !== "ECONNRESET" && socket.writable && !answering.has(socket)) {
        socket.write(`HTTP/1.1 ${clientErrorStatus(error.code)}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`)
      }
    } finally {
      socket.destroy()
    }
  })
  return server
}

const listen = (server: Server, host: string, port: number) =>
  Effect.callback<number, HttpListenError>((resume) => {
    const onError = (cause: Error) => resume(Effect.fail(new HttpListenError({ address: `${host}:${port}`, cause })))
    server.once("error", onError)
    server.listen(port, host === "" ? undefined : host, () => {
      server.off("error", onError)
      resume(Effect.succeed((server.address() as AddressInfo).port))
    })
  })

const close = (server: Server) =>
  Effect.callback<void>((resume) => {
    // Scrapers keep connections alive; without this close() would wait for them forever.
    server.close(() => resume(Effect.void))
    server.closeAllConnections()
  })

/**
 * Listens on host:port ("" is every interface, 0 a free port) while the scope lives; returns the port.
 * An error after listening (e.g. EMFILE on accept) is logged, never thrown: it would end the process.
 */
export const serveHttp = <R>(options: {
  readonly host: string
  readonly port: number
  readonly handle: (request: HttpRequest) => Effect.Effect<Reply, never, R>
  readonly limits?: HttpLimits | undefined
}): Effect.Effect<number, HttpListenError, R | Scope.Scope> =>
  Effect.gen(function* () {
    const bridge = yield* makeEffectBridge<R>()
    const server = makeServer(options.handle, options.limits ?? DEFAULT_LIMITS, bridge)
    const port = yield* Effect.acquireRelease(listen(server, options.host, options.port), () => close(server))
    server.on("error", (cause) => {
      const address = `${options.host}:${port}`
      bridge.fork(Effect.logWarning("HTTP server error", { address, error: String(cause) }))
    })
    return port
  })
