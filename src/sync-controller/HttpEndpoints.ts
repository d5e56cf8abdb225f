// The controller's two ports, as controller-runtime serves them: /metrics on --metrics-bind-address and /healthz,
// /readyz (ping checks) on --health-probe-bind-address, both on the hardened node:http server of src/platform.
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { HostPort } from "../config/GoValues.js"
import { METRICS_CONTENT_TYPE } from "../metrics/MetricsServer.js"
import {
  type HttpListenError,
  type HttpRequest,
  notFound,
  type Reply,
  serveHttp,
  textReply
} from "../platform/HardenedHttpServer.js"
import type { ControllerMetricsShape } from "./ControllerMetrics.js"

const get =
  (routes: Readonly<Record<string, Effect.Effect<Reply>>>) =>
  ({ method, path }: HttpRequest) =>
    (method === "GET" || method === "HEAD") && Object.hasOwn(routes, path) ? routes[path]! : Effect.succeed(notFound)

const ping = Effect.succeed(textReply(200, "[+]ping ok\nhealthz check passed\n"))

/** Listens while the scope lives; returns the bound ports (0 in the address picks a free one). */
export const serveEndpoints = (
  metrics: ControllerMetricsShape,
  addresses: { readonly metrics: HostPort | undefined; readonly health: HostPort | undefined }
): Effect.Effect<{ readonly metrics?: number; readonly health?: number }, HttpListenError, Scope.Scope> =>
  Effect.gen(function* () {
    const ports: { metrics?: number; health?: number } = {}
    if (addresses.metrics !== undefined) {
      ports.metrics = yield* serveHttp<never>({
        ...addresses.metrics,
        handle: get({ "/metrics": Effect.map(metrics.render, (text) => textReply(200, text, METRICS_CONTENT_TYPE)) })
      })
      yield* Effect.logInfo("metrics server listening", { address: `${addresses.metrics.host}:${ports.metrics}` })
    }
    if (addresses.health !== undefined) {
      ports.health = yield* serveHttp<never>({
        ...addresses.health,
        handle: get({ "/healthz": ping, "/readyz": ping })
      })
      yield* Effect.logInfo("health probe server listening", { address: `${addresses.health.host}:${ports.health}` })
    }
    return ports
  })
