// A real HTTP server on 127.0.0.1 speaking enough of the Kubernetes REST API (CSI CRDs, pods, secrets, events) for
// the real @kubernetes/client-node code to run against it, with fault injection, a request log and a kubeconfig.
// Start it as a scoped Effect resource (`fakeApiServer`) or with plain async start/stop for child-process tests.
import * as fs from "node:fs/promises"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import { parsePath, route, statusBody } from "./FakeApiRoutes.js"
import { FakeApiStore, type KubeObject, metaOf, resourceByKind } from "./FakeApiStore.js"
import { serveWatch, type WatchBehaviour } from "./FakeApiWatch.js"

export { FakeApiStore, type KubeObject } from "./FakeApiStore.js"

export interface FakeApiServerOptions {
  /** Events kept for watch resumption; older resourceVersions get 410 Expired. */
  readonly historyLimit?: number
  /** Bearer token the kubeconfig carries and the server demands (401 otherwise). */
  readonly token?: string
}

export type PathMatch = string | RegExp | ((path: string) => boolean)

export interface RequestMatch {
  readonly method?: string
  /** Exact pathname, a RegExp on it, or a predicate. */
  readonly path?: PathMatch
  /** Only requests carrying this query parameter (e.g. "continue": the later pages of a list). */
  readonly withQuery?: string
}

export interface Fault extends RequestMatch {
  readonly status: number
  /** How many matching requests fail (default 1). */
  readonly times?: number
  readonly reason?: string
  readonly message?: string
  /** Answer with this text instead of a Status body (e.g. a proxy's HTML, a truncated body). */
  readonly rawBody?: string
}

export interface LoggedRequest {
  readonly method: string
  readonly path: string
  readonly query: Record<string, string>
  readonly contentType: string | undefined
  readonly authorization: string | undefined
  readonly body: unknown
}

const matches = (m: RequestMatch, method: string, path: string, query: Record<string, string>): boolean =>
  (m.method === undefined || m.method.toUpperCase() === method) &&
  (m.withQuery === undefined || Object.hasOwn(query, m.withQuery)) &&
  (m.path === undefined ||
    (typeof m.path === "string" ? m.path === path : m.path instanceof RegExp ? m.path.test(path) : m.path(path)))

const readBody = async (req: IncomingMessage): Promise<string> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString("utf8")
}

const sendJson = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))

export class FakeApiServer {
  readonly requests: Array<LoggedRequest> = []
  readonly watch: { dropAfter: number | undefined; expiredAs: WatchBehaviour["expiredAs"] } = {
    dropAfter: undefined,
    expiredAs: "event"
  }
  private faults: Array<Fault & { remaining: number }> = []
  private delays: Array<RequestMatch & { ms: number }> = []

  private readonly server: Server
  readonly store: FakeApiStore
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** A kubeconfig file pointing at this server, removed on stop. */
  readonly kubeconfigPath: string
  private readonly dir: string

  private constructor(server: Server, store: FakeApiStore, url: string, kubeconfigPath: string, dir: string) {
    this.server = server
    this.store = store
    this.url = url
    this.kubeconfigPath = kubeconfigPath
    this.dir = dir
  }

  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const store = new FakeApiStore(options.historyLimit)
    let self: FakeApiServer | undefined
    const server = createServer((req, res) => {
      self!.handle(req, res, options.token).catch((e: unknown) => {
        if (!res.headersSent) sendJson(res, 500, statusBody(500, `fake api server: ${String(e)}`))
        else res.destroy()
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => resolve())
    })
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const dir = await fs.mkdtemp(nodePath.join(os.tmpdir(), "fake-apiserver-"))
    const kubeconfigPath = nodePath.join(dir, "kubeconfig")
    await fs.writeFile(kubeconfigPath, kubeconfigFor(url, options.token ?? "fake-token"))
    self = new FakeApiServer(server, store, url, kubeconfigPath, dir)
    return self
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeAllConnections()
    await closed
    await fs.rm(this.dir, { recursive: true, force: true })
  }

  /** Fail the next `times` matching requests with a Status of this code. */
  failNext(fault: Fault): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 })
  }

  /** Hold every matching response back by `ms` (until cleared). */
  delay(ms: number, match: RequestMatch = {}): void {
    this.delays.push({ ...match, ms })
  }

  clearFaults(): void {
    this.faults = []
    this.delays = []
  }

  requestsMatching(m: RequestMatch): Array<LoggedRequest> {
    return this.requests.filter((r) => matches(m, r.method, r.path, r.query))
  }

  /** Put an object straight into the store (no request logged); kind and metadata.namespace pick the place. */
  seed(object: Record<string, unknown>): KubeObject {
    const resource = resourceByKind(String(object["kind"]))
    if (resource === undefined) throw new Error(`fake api server: unknown kind ${String(object["kind"])}`)
    const o = object as KubeObject
    return this.store.create(resource, metaOf(o).namespace ?? "default", o)
  }

  private async handle(req: IncomingMessage, res: ServerResponse, token: string | undefined): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const method = (req.method ?? "GET").toUpperCase()
    const text = await readBody(req)
    let body: unknown
    try {
      body = text === "" ? undefined : JSON.parse(text)
    } catch {
      body = text
    }
    const contentType = req.headers["content-type"]
    const query = Object.fromEntries(url.searchParams)
    this.requests.push({
      method,
      path: url.pathname,
      query,
      contentType,
      authorization: req.headers.authorization,
      body
    })
    const delay = this.delays.find((d) => matches(d, method, url.pathname, query))
    if (delay !== undefined) await new Promise((r) => setTimeout(r, delay.ms))
    const fault = this.faults.find((f) => f.remaining > 0 && matches(f, method, url.pathname, query))
    if (fault !== undefined) {
      fault.remaining--
      if (fault.rawBody !== undefined) return void res.writeHead(fault.status).end(fault.rawBody)
      return void sendJson(
        res,
        fault.status,
        statusBody(fault.status, fault.message ?? "injected failure", fault.reason)
      )
    }
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      return void sendJson(res, 401, statusBody(401, "Unauthorized"))
    }
    const target = parsePath(url.pathname)
    if (target === undefined)
      return void sendJson(res, 404, statusBody(404, "the server could not find the requested resource"))
    if (typeof body === "string")
      return void sendJson(res, 400, statusBody(400, "the body of the request was not valid JSON"))
    if (method === "GET" && url.searchParams.get("watch") === "true" && target.name === undefined) {
      return serveWatch(this.store, target, url.searchParams, res, this.watch)
    }
    const reply = route(this.store, method, target, url.searchParams, body, contentType ?? "application/json")
    sendJson(res, reply.status, reply.body)
  }
}

/**
 * client-node 2 refuses a plain http:// server unless the cluster says insecure-skip-tls-verify (verified with
 * 2.0.1), so that is what the kubeconfig says. JSON is valid YAML, so no YAML writer is needed.
 */
export const kubeconfigFor = (server: string, token: string): string =>
  JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "fake", cluster: { server, "insecure-skip-tls-verify": true } }],
      users: [{ name: "fake", user: { token } }],
      contexts: [{ name: "fake", context: { cluster: "fake", user: "fake", namespace: "default" } }],
      "current-context": "fake"
    },
    null,
    2
  )

/** The fake API server as a scoped resource: stopped (connections closed, kubeconfig removed) with its scope. */
export const fakeApiServer = (options: FakeApiServerOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => FakeApiServer.start(options)),
    (server) => Effect.promise(() => server.stop())
  )
