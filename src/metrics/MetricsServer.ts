// The --metrics-addr HTTP server (node:http: light, no router needed for three paths): /metrics in the Prometheus
// text format, /healthz (liveness: the CSI server answers Probe) and /readyz (readiness, Kubernetes-style check
// lines). Its probes arrive as plain effects, so it knows nothing of the modules it reports on.
import type { Server, ServerResponse } from "node:http"
import { http } from "../platform/nodeHttp.js"
import type { AddressInfo } from "node:net"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { Metrics } from "./Metrics.js"

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
const TEXT = "text/plain; charset=utf-8"

export interface HealthCheck {
  readonly name: string
  /** Fails with a one-line reason. */
  readonly check: Effect.Effect<void, string>
}

export interface MetricsServerOptions {
  /** "" listens on every interface, like Go's `:8095`. */
  readonly host: string
  /** 0 picks a free port (tests); read it back from `MetricsServer.port`. */
  readonly port: number
  /** Liveness: the driver's own CSI Probe (see HealthChecks.csiProbe). */
  readonly probe: Effect.Effect<void, string>
  /** Readiness checks, run concurrently on each /readyz. */
  readonly checks: ReadonlyArray<HealthCheck>
  /** Bound on each probe and check, so a hung dependency gives a failed answer, not a hung scrape. */
  readonly checkTimeout?: Duration.Input
}

export class MetricsServerError extends Schema.TaggedError<MetricsServerError>()("MetricsServerError", {
  message: Schema.String,
  cause: Schema.Defect()
}) {}

interface Reply {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

const reply = (status: number, body: string, contentType = TEXT): Reply => ({ status, contentType, body })

const bounded = (check: Effect.Effect<void, string>, timeout: Duration.Input) =>
  check.pipe(Effect.timeoutOrElse({
    duration: timeout,
    orElse: () => Effect.fail(`timed out after ${Duration.format(Duration.fromInputUnsafe(timeout))}`)
  }))

/** Kubernetes' readyz body: one `[+]name ok` / `[-]name failed: reason` line per check, then the verdict. */
const readyz = (checks: ReadonlyArray<HealthCheck>, timeout: Duration.Input) =>
  Effect.forEach(checks, ({ check, name }) =>
    bounded(check, timeout).pipe(Effect.match({
      onSuccess: () => ({ ok: true, line: `[+]${name} ok` }),
      onFailure: (reason) => ({ ok: false, line: `[-]${name} failed: ${reason}` })
    })), { concurrency: "unbounded" }).pipe(
    Effect.map((results) => {
      const ok = results.every((result) => result.ok)
      const lines = ["[+]config ok", ...results.map((result) => result.line), `readyz check ${ok ? "passed" : "failed"}`]
      return reply(ok ? 200 : 503, `${lines.join("\n")}\n`)
    })
  )

const route = (options: MetricsServerOptions, render: Effect.Effect<string>) => {
  const timeout = options.checkTimeout ?? "5 seconds"
  return (method: string, pathname: string): Effect.Effect<Reply> => {
    if (method !== "GET" && method !== "HEAD") return Effect.succeed(reply(404, "404 page not found\n"))
    switch (pathname) {
      case "/metrics":
        return Effect.map(render, (text) => reply(200, text, METRICS_CONTENT_TYPE))
      case "/healthz":
        return bounded(options.probe, timeout).pipe(
          Effect.match({ onSuccess: () => reply(200, "ok"), onFailure: (reason) => reply(500, `${reason}\n`) })
        )
      case "/readyz":
        return readyz(options.checks, timeout)
      default:
        return Effect.succeed(reply(404, "404 page not found\n"))
    }
  }
}

const send = (res: ServerResponse, method: string, { body, contentType, status }: Reply) => {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) })
  res.end(method === "HEAD" ? undefined : body)
}

const listen = (server: Server, host: string, port: number) =>
  Effect.callback<number, MetricsServerError>((resume) => {
    const onError = (cause: Error) =>
      resume(Effect.fail(new MetricsServerError({ message: `cannot listen on ${host}:${port} for metrics: ${cause.message}`, cause })))
    server.once("error", onError)
    server.listen(port, host === "" ? undefined : host, () => {
      server.off("error", onError)
      resume(Effect.succeed((server.address() as AddressInfo).port))
    })
  })

const close = (server: Server) =>
  Effect.callback<void>((resume) => {
    // Prometheus keeps connections alive; without this close() would wait for them forever.
    server.close(() => resume(Effect.void))
    server.closeAllConnections()
  })

export class MetricsServer extends Context.Service<MetricsServer, { readonly port: number }>()("MetricsServer") {
  /** Serves while the layer lives; the listening socket and open connections close with it. */
  static readonly layer = (options: MetricsServerOptions): Layer.Layer<MetricsServer, MetricsServerError, Metrics> =>
    Layer.effect(MetricsServer, Effect.gen(function*() {
      const metrics = yield* Metrics
      const context = yield* Effect.context<never>()
      const handle = route(options, metrics.render)
      const server = http.createServer((req, res) => {
        const method = req.method ?? "GET"
        const pathname = new URL(req.url ?? "/", "http://localhost").pathname
        Effect.runPromiseWith(context)(handle(method, pathname)).then(
          (answer) => send(res, method, answer),
          (error: unknown) => send(res, method, reply(500, `internal error: ${String(error)}\n`))
        )
      })
      const port = yield* Effect.acquireRelease(listen(server, options.host, options.port), () => close(server))
      yield* Effect.logInfo("metrics server listening", { address: `${options.host}:${port}` })
      return MetricsServer.of({ port })
    }))
}
