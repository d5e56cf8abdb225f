// The --metrics-addr HTTP server (node:http: light, no router needed for three paths): /metrics in the Prometheus
// text format, /healthz (liveness: the CSI server answers Probe) and /readyz (readiness, Kubernetes-style check
// lines). Its probes arrive as plain effects, so it knows nothing of the modules it reports on.
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import {
  type HttpLimits,
  type HttpRequest,
  notFound,
  type Reply,
  serveHttp,
  textReply
} from "../platform/HardenedHttpServer.js"
import { Metrics } from "./Metrics.js"

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

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
  /**
   * How long one /healthz and one /readyz answer is shared (default 1 s, measured from when it was computed).
   * At most one probe and one readiness round run at a time; concurrent requests join them, so a flood of
   * requests costs one probe per interval, not one per request.
   */
  readonly resultTtl?: Duration.Input
  readonly limits?: HttpLimits
}

export class MetricsServerError extends Schema.TaggedError<MetricsServerError>()("MetricsServerError", {
  message: Schema.String,
  cause: Schema.Defect()
}) {}

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const bounded = (check: Effect.Effect<void, string>, timeout: Duration.Input) =>
  check.pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.fail(`timed out after ${Duration.format(Duration.fromInputUnsafe(timeout))}`)
    })
  )

/** Kubernetes' readyz body: one `[+]name ok` / `[-]name failed: reason` line per check, then the verdict. */
const readyz = (checks: ReadonlyArray<HealthCheck>, timeout: Duration.Input) =>
  Effect.forEach(
    checks,
    ({ check, name }) =>
      bounded(check, timeout).pipe(
        Effect.match({
          onSuccess: () => ({ ok: true, line: `[+]${name} ok` }),
          onFailure: (reason) => ({ ok: false, line: `[-]${name} failed: ${reason}` })
        })
      ),
    { concurrency: "unbounded" }
  ).pipe(
    Effect.map((results) => {
      const ok = results.every((result) => result.ok)
      const lines = [
        "[+]config ok",
        ...results.map((result) => result.line),
        `readyz check ${ok ? "passed" : "failed"}`
      ]
      return textReply(ok ? 200 : 503, `${lines.join("\n")}\n`)
    })
  )

const healthz = (probe: Effect.Effect<void, string>, timeout: Duration.Input) =>
  bounded(probe, timeout).pipe(
    Effect.match({ onSuccess: () => textReply(200, "ok"), onFailure: (reason) => textReply(500, `${reason}\n`) })
  )

interface Answers {
  readonly metrics: Effect.Effect<Reply>
  readonly healthz: Effect.Effect<Reply>
  readonly readyz: Effect.Effect<Reply>
}

const route =
  (answers: Answers) =>
  ({ method, path }: HttpRequest): Effect.Effect<Reply> => {
    if (method !== "GET" && method !== "HEAD") return Effect.succeed(notFound)
    switch (path) {
      case "/metrics":
        return answers.metrics
      case "/healthz":
        return answers.healthz
      case "/readyz":
        return answers.readyz
      default:
        return Effect.succeed(notFound)
    }
  }

export class MetricsServer extends Context.Service<MetricsServer, { readonly port: number }>()("MetricsServer") {
  /** Serves while the layer lives; the listening socket and open connections close with it. */
  static readonly layer = (options: MetricsServerOptions): Layer.Layer<MetricsServer, MetricsServerError, Metrics> =>
    Layer.effect(
      MetricsServer,
      Effect.gen(function* () {
        const metrics = yield* Metrics
        const timeout = options.checkTimeout ?? "5 seconds"
        const ttl = options.resultTtl ?? "1 second"
        const handle = route({
          metrics: Effect.map(metrics.render, (text) => textReply(200, text, METRICS_CONTENT_TYPE)),
          healthz: yield* Effect.cachedWithTTL(healthz(options.probe, timeout), ttl),
          readyz: yield* Effect.cachedWithTTL(readyz(options.checks, timeout), ttl)
        })
        const port = yield* serveHttp({ host: options.host, port: options.port, handle, limits: options.limits }).pipe(
          Effect.mapError(
            ({ address, cause }) =>
              new MetricsServerError({ message: `cannot listen on ${address} for metrics: ${describe(cause)}`, cause })
          )
        )
        yield* Effect.logInfo("metrics server listening", { address: `${options.host}:${port}` })
        return MetricsServer.of({ port })
      })
    )
}
