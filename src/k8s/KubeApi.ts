// KubeApi: the driver's only door to the Kubernetes API and the only importer of @kubernetes/client-node. It speaks
// raw REST (method, path, JSON) through client-node's auth and TLS handling, loaded lazily on the first call from a
// tree-shaken bundle (~16 MiB RSS instead of the package's ~60), so a driver without a cluster never pays for it.
import * as Duration from "effect/Duration"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js"
import type { RequestContext, ResponseContext } from "@kubernetes/client-node/dist/gen/http/http.js"
import type { IsomorphicFetchHttpLibrary } from "@kubernetes/client-node/dist/gen/http/isomorphic-fetch.js"
import { KubernetesError } from "./KubernetesError.js"
import { describeSource, kubeConfigSource, type KubeConfigSource } from "./KubeConfigSource.js"
import { parseWatchLine, transportDetail, unexpectedStatus, type WatchEvent } from "./KubeResponses.js"

export type { WatchEvent } from "./KubeResponses.js"

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

export interface KubeApiShape {
  readonly source: KubeConfigSource
  /** One request; resolves to the decoded JSON body of a 2xx answer. */
  readonly request: (req: KubeRequest) => Effect.Effect<unknown, KubernetesError>
  /** A watch (`?watch=true`) as a stream of events; an ERROR event or a broken connection fails the stream. */
  readonly watch: (req: Omit<KubeRequest, "method" | "body" | "contentType">) => Stream.Stream<WatchEvent, KubernetesError>
}

export interface KubeApiOptions {
  /** The `--kubeconfig` flag. */
  readonly kubeconfig: string | undefined
  /** Per-call deadline (connect + whole body for requests, connect for watches). */
  readonly timeout?: Duration.Input | undefined
}

interface Client {
  readonly kc: KubeConfig
  readonly server: string
  readonly newRequest: (url: string, method: KubeRequest["method"]) => RequestContext
  readonly send: (ctx: RequestContext) => Promise<ResponseContext>
}

/**
 * client-node, tree-shaken into vendor/kubernetes-client.js at build time (scripts/bundle-kubernetes-client.mjs):
 * the package itself would cost the node agent ~60 MiB of generated API code it never calls. The path is two
 * levels up from both src/k8s/ and dist/k8s/.
 */
interface ClientBundle {
  readonly KubeConfig: typeof KubeConfig
  readonly RequestContext: typeof RequestContext
  readonly IsomorphicFetchHttpLibrary: typeof IsomorphicFetchHttpLibrary
}
const loadBundle = (): Promise<ClientBundle> => import(new URL("../../vendor/kubernetes-client.js", import.meta.url).href)

const loadClient = async (source: KubeConfigSource): Promise<Client> => {
  if (source._tag === "None") {
    throw new Error("no kubeconfig found (no --kubeconfig flag, no KUBECONFIG, not running in a cluster)")
  }
  const { KubeConfig, RequestContext, IsomorphicFetchHttpLibrary } = await loadBundle()
  const kc = new KubeConfig()
  if (source._tag === "InCluster") loadInCluster(kc, source)
  else loadFiles(kc, source.paths, () => new KubeConfig())
  const cluster = kc.getCurrentCluster()
  if (cluster === null) throw new Error(`${describeSource(source)} has no current cluster`)
  const library = new IsomorphicFetchHttpLibrary()
  return {
    kc,
    server: cluster.server.replace(/\/+$/, ""),
    newRequest: (url, method) => new RequestContext(url, method),
    send: (ctx) => library.send(ctx).toPromise()
  }
}

// A YAML error quotes the offending lines, which may hold a token or a key: only the errno or "not valid" is kept.
const loadFile = (kc: KubeConfig, path: string) => {
  try {
    kc.loadFromFile(path)
  } catch (cause) {
    const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
    throw new Error(code === undefined ? `kubeconfig ${path} is not valid` : `cannot read kubeconfig ${path}: ${code}`)
  }
}

const loadFiles = (kc: KubeConfig, paths: ReadonlyArray<string>, fresh: () => KubeConfig) => {
  const [first, ...rest] = paths
  loadFile(kc, first!)
  // client-go: the first file that sets current-context wins; later files only add entries.
  for (const path of rest) {
    const next = fresh()
    loadFile(next, path)
    kc.mergeConfig(next, true)
  }
}

// Same shape as client-node's loadFromCluster, but from the environment this layer was given.
const loadInCluster = (kc: KubeConfig, source: Extract<KubeConfigSource, { _tag: "InCluster" }>) => {
  const scheme = ["80", "8080", "8001"].includes(source.port) ? "http" : "https"
  const host = source.host.includes(":") ? `[${source.host}]` : source.host
  kc.loadFromClusterAndUser(
    { name: "inCluster", caFile: `${source.serviceAccountDir}/ca.crt`, server: `${scheme}://${host}:${source.port}`, skipTLSVerify: false },
    { name: "inClusterUser", authProvider: { name: "tokenFile", config: { tokenFile: `${source.serviceAccountDir}/token` } } }
  )
}

const urlOf = (client: Client, path: string, query: KubeRequest["query"]): string => {
  const url = new URL(client.server + path)
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, v)
  return url.toString()
}

/** The loaded client plus the one dispatcher shared by every call; loading is retried after a failure. */
const makeTransport = (source: KubeConfigSource) => {
  let loaded: Promise<Client> | undefined
  // One undici dispatcher for the layer's lifetime: client-node builds a fresh one per request, which would
  // open a new connection (and TLS handshake) for every call.
  let dispatcher: ReturnType<RequestContext["getDispatcher"]>
  const client = () => {
    loaded ??= loadClient(source).catch((e: unknown) => {
      loaded = undefined
      throw e
    })
    return loaded
  }
  const prepare = async (req: KubeRequest, signal: AbortSignal) => {
    const c = await client()
    const ctx = c.newRequest(urlOf(c, req.path, req.query), req.method)
    await c.kc.applySecurityAuthentication(ctx)
    const own = ctx.getDispatcher()
    if (dispatcher === undefined) dispatcher = own
    else if (own !== undefined && own !== dispatcher) {
      void own.close()
      ctx.setDispatcher(dispatcher)
    }
    ctx.setHeaderParam("Accept", "application/json")
    if (req.body !== undefined) {
      ctx.setHeaderParam("Content-Type", req.contentType ?? "application/json")
      ctx.setBody(JSON.stringify(req.body))
    }
    ctx.setSignal(signal)
    return c.send(ctx)
  }
  // destroy, not close: close would wait for open watches to end.
  const release = Effect.promise(async () => dispatcher?.destroy()).pipe(Effect.ignore)
  return { prepare, release }
}

const failure = (req: Pick<KubeRequest, "description">, detail: string, cause?: unknown) =>
  new KubernetesError({ reason: "KubernetesApiError", message: `failed to ${req.description}, error: ${detail}`, cause })

// JSON.parse quotes the text it chokes on, and a body may be a Secret: never let that reach a message.
const parseBody = (description: string, text: string): unknown => {
  try {
    return text === "" ? undefined : JSON.parse(text)
  } catch {
    throw failure({ description }, "the response is not valid JSON")
  }
}

export class KubeApi extends Context.Service<KubeApi, KubeApiShape>()("KubeApi") {
  static readonly layer = (options: KubeApiOptions): Layer.Layer<KubeApi> =>
    Layer.effect(KubeApi, make(options))
}

const make = Effect.fnUntraced(function*(options: KubeApiOptions) {
  const timeout = Duration.fromInputUnsafe(options.timeout ?? "10 seconds")
  const source = yield* kubeConfigSource(options.kubeconfig)
  if (source._tag === "None") yield* Effect.logWarning("no kubeconfig found: Kubernetes API calls will fail")
  else yield* Effect.logDebug(`Kubernetes client uses ${describeSource(source)}`)
  const transport = makeTransport(source)
  yield* Effect.addFinalizer(() => transport.release)

  const call = <A>(req: KubeRequest, run: (response: ResponseContext) => Promise<A>) =>
    Effect.tryPromise({
      try: async (signal) => run(await transport.prepare(req, signal)),
      catch: (cause) => cause instanceof KubernetesError ? cause : failure(req, transportDetail(cause), cause)
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(failure(req, `timed out after ${Duration.format(timeout)}`))
      })
    )

  const request = Effect.fn("KubeApi.request")(function*(req: KubeRequest) {
    yield* Effect.annotateCurrentSpan({ method: req.method, path: req.path })
    return yield* call(req, async (response) => {
      const text = await response.body.text()
      if (response.httpStatusCode < 200 || response.httpStatusCode >= 300) {
        throw unexpectedStatus(req.description, response.httpStatusCode, text)
      }
      return parseBody(req.description, text)
    })
  })

  const watch = (req: Omit<KubeRequest, "method" | "body" | "contentType">) => {
    const full: KubeRequest = { ...req, method: "GET", query: { ...req.query, watch: "true" } }
    const open = call(full, async (response) => {
      if (response.httpStatusCode !== 200) {
        throw unexpectedStatus(req.description, response.httpStatusCode, await response.body.text())
      }
      const body = response.body.stream()
      if (body === null) throw new Error("watch response has no body")
      return body
    })
    return Stream.unwrap(Effect.map(open, (body) =>
      Stream.fromReadableStream({ evaluate: () => body, onError: (cause) => failure(full, transportDetail(cause), cause) })
    )).pipe(
      Stream.decodeText,
      Stream.splitLines,
      Stream.filter((line) => line.trim() !== ""),
      // Ending the stream cancels the body reader, which closes the connection.
      Stream.mapEffect((line) => parseWatchLine(req.description, line))
    )
  }

  return KubeApi.of({ source, request, watch })
})
