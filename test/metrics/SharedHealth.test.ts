// /healthz and /readyz under a flood, at the layer level on a real loopback port: one probe (and one readiness
// round) per interval however many requests arrive, failures still reported, recovery seen after the interval
// (TestClock), and the bound on handlers in flight answering 503 while it is full.
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import { Metrics } from "../../src/metrics/Metrics.js"
import { MetricsServer, type MetricsServerOptions } from "../../src/metrics/MetricsServer.js"
import { DEFAULT_LIMITS } from "../../src/platform/HardenedHttpServer.js"
import { eventually } from "../support/ChildProcess.js"

const serve = (options: Omit<MetricsServerOptions, "host" | "port">) =>
  Effect.map(
    Layer.build(MetricsServer.layer({ host: "127.0.0.1", port: 0, ...options }).pipe(Layer.provide(Metrics.layer))),
    (context) => Context.get(context, MetricsServer).port
  )

/** The status, or "closed" when the server dropped the connection (allowed beyond maxConnections). */
const status = (port: number, path: string) =>
  fetch(`http://127.0.0.1:${port}${path}`).then(
    async (r) => (await r.text(), r.status),
    () => "closed" as const
  )

const get = (port: number, path: string) =>
  Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`)
    return { status: response.status, body: await response.text() }
  })

/** A check that counts its runs, takes a real 50 ms (so requests overlap it) and fails while `failing` is set. */
const countingCheck = () => {
  const state = { runs: 0, failing: undefined as string | undefined }
  const check = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50))).pipe(
    Effect.tap(() => Effect.sync(() => state.runs++)),
    Effect.flatMap(() => (state.failing === undefined ? Effect.void : Effect.fail(state.failing)))
  )
  return { state, check }
}

const flood = (port: number, path: string, n: number) =>
  Effect.promise(() => Promise.all(Array.from({ length: n }, () => status(port, path))))

describe("shared health answers", () => {
  it.effect("400 concurrent /healthz requests run the probe once", () =>
    Effect.gen(function* () {
      const probe = countingCheck()
      const port = yield* serve({ probe: probe.check, checks: [] })
      const statuses = yield* flood(port, "/healthz", 400)
      expect(probe.state.runs).toBe(1)
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0)
      expect(statuses.filter((s) => s !== 200 && s !== 503 && s !== "closed")).toEqual([])
      yield* TestClock.adjust("1 second")
      yield* flood(port, "/healthz", 50)
      expect(probe.state.runs).toBe(2)
    })
  )

  it.effect("400 concurrent /readyz requests run each check once", () =>
    Effect.gen(function* () {
      const api = countingCheck()
      const providers = countingCheck()
      const checks = [
        { name: "apiserver", check: api.check },
        { name: "providers", check: providers.check }
      ]
      const port = yield* serve({ probe: Effect.void, checks })
      const statuses = yield* flood(port, "/readyz", 400)
      expect([api.state.runs, providers.state.runs]).toEqual([1, 1])
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0)
    })
  )

  it.effect("a failing probe answers 500 with its reason; after recovery 200 comes once the interval has passed", () =>
    Effect.gen(function* () {
      const probe = countingCheck()
      probe.state.failing = "CSI probe failed: connect ENOENT"
      const port = yield* serve({ probe: probe.check, checks: [] })
      expect(yield* get(port, "/healthz")).toEqual({ status: 500, body: "CSI probe failed: connect ENOENT\n" })
      probe.state.failing = undefined
      expect((yield* get(port, "/healthz")).status).toBe(500)
      yield* TestClock.adjust("999 millis")
      expect((yield* get(port, "/healthz")).status).toBe(500)
      yield* TestClock.adjust("1 millis")
      expect(yield* get(port, "/healthz")).toEqual({ status: 200, body: "ok" })
      expect(probe.state.runs).toBe(2)
    })
  )

  it.live("handlers in flight are bounded: beyond the bound a request gets 503 until one finishes", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const limits = { ...DEFAULT_LIMITS, maxInFlight: 2 }
      const port = yield* serve({ probe: Deferred.await(gate), checks: [], limits })
      const held = [status(port, "/healthz"), status(port, "/healthz")]
      yield* Effect.promise(() => eventually(async () => expect(await status(port, "/metrics")).toBe(503), 30_000, 20))
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Effect.promise(() => Promise.all(held))).toEqual([200, 200])
      expect(yield* Effect.promise(() => status(port, "/metrics"))).toBe(200)
    })
  )
})
