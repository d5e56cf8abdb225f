// KubeApi: the driver's only door to the Kubernetes API and the only user of @kubernetes/client-node. It speaks
// raw REST (method, path, JSON) over node:https with client-node's auth and TLS handling (KubeTransport), both
// loaded lazily on the first call, so a driver without a cluster never pays for them.
import type { IncomingMessage } from "node:http"
import * as Duration from "effect/Duration"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { KubernetesError } from "./KubernetesError.js"
import { describeSource, kubeConfigSource, type KubeConfigSource } from "./KubeConfigSource.js"
import { parseWatchLine, transportDetail, unexpectedStatus, type WatchEvent } from "./KubeResponses.js"
import { makeKubeTransport, readText, type KubeRequest } from "./KubeTransport.js"

export type { WatchEvent } from "./KubeResponses.js"
export type { KubeRequest } from "./KubeTransport.js"

export interface KubeApiShape {
  readonly source: KubeConfigSource
  /** One request; resolves to the decoded JSON body of a 2xx answer. */
  readonly request: (req: KubeRequest) => Effect.Effect<unknown, KubernetesError>
  /** A watch (`?watch=true`) as a stream of events; an ERROR event or a broken connection fails the stream. */
  readonly watch: (
    req: Omit<KubeRequest, "method" | "body" | "contentType">
  ) => Stream.Stream<WatchEvent, KubernetesError>
}

export interface KubeApiOptions {
  /** The `--kubeconfig` flag. */
  readonly kubeconfig: string | undefined
  /** Per-call deadline (connect + whole body for requests, connect for watches). */
  readonly timeout?: Duration.Input | undefined
}

const failure = (req: Pick<KubeRequest, "description">, detail: string, cause?: unknown) =>
  new KubernetesError({
    reason: "KubernetesApiError",
    message: `failed to ${req.description}, error: ${detail}`,
    cause
  })

// JSON.parse quotes the text it chokes on, and a body may be a Secret: never let that reach a message.
const parseBody = (description: string, text: string): unknown => {
  try {
    return text === "" ? undefined : JSON.parse(text)
  } catch {
    throw failure({ description }, "the response is not valid JSON")
  }
}

export class KubeApi extends Context.Service<KubeApi, KubeApiShape>()("KubeApi") {
  static readonly layer = (options: KubeApiOptions): Layer.Layer<KubeApi> => Layer.effect(KubeApi, make(options))
}

const make = Effect.fnUntraced(function* (options: KubeApiOptions) {
  const timeout = Duration.fromInputUnsafe(options.timeout ?? "10 seconds")
  const source = yield* kubeConfigSource(options.kubeconfig)
  if (source._tag === "None") yield* Effect.logWarning("no kubeconfig found: Kubernetes API calls will fail")
  else yield* Effect.logDebug(`Kubernetes client uses ${describeSource(source)}`)
  const transport = yield* Effect.acquireRelease(
    Effect.sync(() => makeKubeTransport(source)),
    (t) => Effect.sync(() => t.close())
  )

  // The abort signal destroys the request (and its connection) when the call is interrupted or times out.
  const call = <A>(req: KubeRequest, run: (response: IncomingMessage) => Promise<A>) =>
    Effect.tryPromise({
      try: async (signal) => run(await transport.send(req, signal)),
      catch: (cause) => (cause instanceof KubernetesError ? cause : failure(req, transportDetail(cause), cause))
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(failure(req, `timed out after ${Duration.format(timeout)}`))
      })
    )

  const request = Effect.fn("KubeApi.request")(function* (req: KubeRequest) {
    yield* Effect.annotateCurrentSpan({ method: req.method, path: req.path })
    return yield* call(req, async (response) => {
      const text = await readText(response)
      const code = response.statusCode ?? 0
      if (code < 200 || code >= 300) throw unexpectedStatus(req.description, code, text)
      return parseBody(req.description, text)
    })
  })

  const watch = (req: Omit<KubeRequest, "method" | "body" | "contentType">) => {
    const full: KubeRequest = { ...req, method: "GET", query: { ...req.query, watch: "true" } }
    const open = Effect.gen(function* () {
      let response: IncomingMessage | undefined
      // Registered before the call, and the response recorded inside it, so that no interleaving of interruption
      // and arrival leaves a watch connection open. Destroying a body still streaming closes its connection.
      yield* Effect.addFinalizer(() => Effect.sync(() => response?.complete === false && response.destroy()))
      const body = yield* call(full, async (res) => {
        response = res
        if (res.statusCode !== 200) throw unexpectedStatus(req.description, res.statusCode ?? 0, await readText(res))
        return res
      })
      return Stream.fromAsyncIterable(body as AsyncIterable<Uint8Array>, (cause) =>
        failure(full, transportDetail(cause), cause)
      )
    })
    return Stream.unwrap(open).pipe(
      Stream.decodeText,
      Stream.splitLines,
      Stream.filter((line) => line.trim() !== ""),
      Stream.mapEffect((line) => parseWatchLine(req.description, line))
    )
  }

  return KubeApi.of({ source, request, watch })
})
