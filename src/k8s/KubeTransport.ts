// How one Kubernetes API call reaches the server: node:http(s) with keep-alive agents owned by the KubeApi layer,
// credentials and TLS material from client-node's applyToHTTPSOptions on every call. node:https is loaded by the
// process anyway; client-node's own fetch transport would add undici (~9 MiB RSS) for the same job.
import type { IncomingMessage } from "node:http"
import { http } from "../platform/nodeHttp.js"
import * as https from "node:https"
import { loadKubeClientConfig, type KubeClientConfig } from "./KubeClientConfig.js"
import type { KubeConfigSource } from "./KubeConfigSource.js"

export interface KubeRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  /** Absolute API path, e.g. `/apis/secrets-store.csi.x-k8s.io/v1/namespaces/default/secretproviderclasses/x`. */
  readonly path: string
  readonly query?: Readonly<Record<string, string | undefined>>
  readonly body?: unknown
  /** Defaults to application/json; PATCH callers pass application/merge-patch+json. */
  readonly contentType?: string
  /** What the call does, for messages: "get secretproviderclass default/x" => "failed to get ..., error: ...". */
  readonly description: string
}

export interface KubeTransport {
  /** Sends the request; resolves with the response head, its body still to be read (or destroyed). */
  readonly send: (req: KubeRequest, signal: AbortSignal) => Promise<IncomingMessage>
  /** Closes every pooled connection, open watches included. */
  readonly close: () => void
}

/**
 * client-node's applyToHTTPSOptions hands out an agent without keep-alive, i.e. a TCP connection and TLS handshake
 * per call. These pool connections instead; the TLS options travel with each request, and node pools by them
 * (Agent#getName), so rotated certificates get fresh connections. 30 s idle (client-go keeps 90 s) stays under
 * the 60 s idle timeout of common cloud load balancers; an in-flight watch only sees a harmless 'timeout' event.
 */
const agentOptions = { keepAlive: true, keepAliveMsecs: 30_000, timeout: 30_000, scheduling: "lifo" } as const

const urlOf = (server: string, path: string, query: KubeRequest["query"]): URL => {
  const url = new URL(server + path)
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, v)
  return url
}

/** The configuration is loaded on the first call and loading is retried after a failure. */
export const makeKubeTransport = (source: KubeConfigSource): KubeTransport => {
  let loaded: Promise<KubeClientConfig> | undefined
  const config = () => {
    loaded ??= loadKubeClientConfig(source).catch((e: unknown) => {
      loaded = undefined
      throw e
    })
    return loaded
  }
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) }

  const send = async (req: KubeRequest, signal: AbortSignal) => {
    const c = await config()
    // Re-applied per call (a few small file reads): CA and client certificate files and the token file (every
    // 60 s) are re-read, and exec plugins are re-run when their credential expires, as client-go does.
    const options: https.RequestOptions = {}
    await c.kc.applyToHTTPSOptions(options)
    const url = urlOf(c.server, req.path, req.query)
    const plain = url.protocol === "http:"
    const body = req.body === undefined ? undefined : JSON.stringify(req.body)
    options.method = req.method
    options.signal = signal
    options.headers = {
      ...options.headers,
      Accept: "application/json",
      ...(body === undefined
        ? {}
        : { "Content-Type": req.contentType ?? "application/json", "Content-Length": Buffer.byteLength(body) })
    }
    if (!c.proxied) options.agent = plain ? agents.http : agents.https
    return new Promise<IncomingMessage>((resolve, reject) => {
      const request = (plain ? http : https).request(url, options, resolve)
      // `on`, not `once`: a request can emit a second error (a reset after an abort), which must not go unhandled.
      request.on("error", reject)
      request.end(body)
    })
  }

  const close = () => {
    agents.http.destroy()
    agents.https.destroy()
  }
  return { send, close }
}

/** The whole body as text; an abort or a reset mid-body rejects. */
export const readText = async (response: IncomingMessage): Promise<string> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of response) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString("utf8")
}
