// The metrics/health HTTP server on a real loopback port: /metrics, /healthz, /readyz and 404, with probes
// and checks whose answers the test flips while the server runs.
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/testing/TestClock"
import { Metrics } from "../../src/metrics/Metrics.js"
import {
  METRICS_CONTENT_TYPE,
  MetricsServer,
  MetricsServerError,
  type MetricsServerOptions
} from "../../src/metrics/MetricsServer.js"
import { parsePrometheus, samplesOf } from "./parsePrometheus.js"

/** A check whose failure reason (or success, when undefined) the test sets. */
const switchable = Effect.gen(function* () {
  const state = yield* Ref.make<string | undefined>(undefined)
  const check = Effect.flatMap(Ref.get(state), (reason) => (reason === undefined ? Effect.void : Effect.fail(reason)))
  return { check, fail: (reason: string) => Ref.set(state, reason), pass: Ref.set(state, undefined) }
})

const get = (port: number, path: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, init)
    return { status: response.status, contentType: response.headers.get("content-type"), body: await response.text() }
  })

const serve = (options: Omit<MetricsServerOptions, "host" | "port"> & { host?: string; port?: number }) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      MetricsServer.layer({ host: "127.0.0.1", port: 0, ...options }).pipe(Layer.provideMerge(Metrics.layer))
    )
    return { port: Context.get(context, MetricsServer).port, metrics: Context.get(context, Metrics) }
  })

describe("MetricsServer", () => {
  it.live("serves /metrics in the Prometheus text format", () =>
    Effect.gen(function* () {
      const { metrics, port } = yield* serve({ probe: Effect.void, checks: [] })
      expect(port).toBeGreaterThan(0)
      yield* metrics.publishFailed("azure", "SecretProviderClassNotFound")
      const response = yield* get(port, "/metrics")
      expect(response.status).toBe(200)
      expect(response.contentType).toBe(METRICS_CONTENT_TYPE)
      expect(samplesOf(parsePrometheus(response.body), "node_publish_error_total")).toEqual([
        { labels: { provider: "azure", error_type: "SecretProviderClassNotFound", os_type: "linux" }, value: 1 }
      ])
    })
  )

  it.effect("answers /healthz 200 while the probe passes and 500 with its reason when it fails", () =>
    Effect.gen(function* () {
      const probe = yield* switchable
      const { port } = yield* serve({ probe: probe.check, checks: [] })
      expect(yield* get(port, "/healthz")).toMatchObject({ status: 200, body: "ok" })
      yield* probe.fail("CSI probe failed: connect ECONNREFUSED")
      yield* TestClock.adjust("1 second")
      expect(yield* get(port, "/healthz")).toMatchObject({
        status: 500,
        body: "CSI probe failed: connect ECONNREFUSED\n"
      })
      yield* probe.pass
      yield* TestClock.adjust("1 second")
      expect((yield* get(port, "/healthz")).status).toBe(200)
    })
  )

  it.effect("answers /readyz with one line per check, 200 when all pass and 503 otherwise", () =>
    Effect.gen(function* () {
      const api = yield* switchable
      const providers = yield* switchable
      const { port } = yield* serve({
        probe: Effect.void,
        checks: [
          { name: "apiserver", check: api.check },
          { name: "providers", check: providers.check }
        ]
      })
      expect(yield* get(port, "/readyz")).toMatchObject({
        status: 200,
        body: "[+]config ok\n[+]apiserver ok\n[+]providers ok\nreadyz check passed\n"
      })
      yield* providers.fail("vault: connection refused")
      yield* TestClock.adjust("1 second")
      expect(yield* get(port, "/readyz")).toMatchObject({
        status: 503,
        body: "[+]config ok\n[+]apiserver ok\n[-]providers failed: vault: connection refused\nreadyz check failed\n"
      })
    })
  )

  it.live("bounds a hung check by checkTimeout instead of hanging the request", () =>
    Effect.gen(function* () {
      const { port } = yield* serve({
        probe: Effect.never,
        checks: [{ name: "apiserver", check: Effect.never }],
        checkTimeout: "200 millis"
      })
      const ready = yield* get(port, "/readyz")
      expect(ready.status).toBe(503)
      expect(ready.body).toContain("[-]apiserver failed: timed out after 200ms\n")
      expect(yield* get(port, "/healthz")).toMatchObject({ status: 500, body: "timed out after 200ms\n" })
    })
  )

  it.live("answers 404 for anything else", () =>
    Effect.gen(function* () {
      const { port } = yield* serve({ probe: Effect.void, checks: [] })
      expect((yield* get(port, "/")).status).toBe(404)
      expect((yield* get(port, "/metrics/extra")).status).toBe(404)
      expect((yield* get(port, "/metrics", { method: "POST", body: "x" })).status).toBe(404)
      expect((yield* get(port, "/readyz?verbose")).status).toBe(200)
    })
  )

  it.live("listens on every interface when the host is empty, and stops listening when its scope closes", () =>
    Effect.gen(function* () {
      const port = yield* Effect.scoped(
        Effect.gen(function* () {
          const { port } = yield* serve({ host: "", probe: Effect.void, checks: [] })
          expect((yield* get(port, "/healthz")).status).toBe(200)
          // A kept-alive connection must not hold shutdown open.
          return port
        })
      )
      const refused = yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${port}/healthz`).then(
          () => false,
          () => true
        )
      )
      expect(refused).toBe(true)
    })
  )

  it.live("fails with MetricsServerError when the port is taken", () =>
    Effect.gen(function* () {
      const blocker = yield* Effect.acquireRelease(
        Effect.callback<net.Server>((resume) => {
          const server = net.createServer().listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      const port = (blocker.address() as net.AddressInfo).port
      const error = yield* Effect.flip(serve({ port, probe: Effect.void, checks: [] }))
      expect(error).toBeInstanceOf(MetricsServerError)
      expect(error.message).toContain(`127.0.0.1:${port}`)
    })
  )
})
