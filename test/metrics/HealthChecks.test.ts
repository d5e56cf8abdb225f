// The health checks against real things: a CSI Probe over a real unix socket to serveCsi (also through
// /healthz, before and after the CSI server stops), a socket that never answers, and the providers' results.
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { eventually } from "../support/ChildProcess.js"
import { startCsiServer } from "../support/CsiServer.js"
import {
  channelAddress,
  type CircuitView,
  circuitsCheck,
  csiProbe,
  providersCheck
} from "../../src/metrics/HealthChecks.js"
import { Metrics } from "../../src/metrics/Metrics.js"
import { MetricsServer } from "../../src/metrics/MetricsServer.js"

const tempSocket = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "csi-probe-")), "csi.sock")

const startCsi = (socket: string) => startCsiServer(socket)

const healthz = (port: number) =>
  Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`)
    return { status: response.status, body: await response.text() }
  })

describe("csiProbe", () => {
  it.live("probes a real CSI server, and /healthz turns 500 once that server stops", () =>
    Effect.gen(function* () {
      const socket = tempSocket()
      const csi = yield* startCsi(socket)
      const endpoint = { _tag: "unix", path: socket } as const
      expect(yield* Effect.exit(csiProbe(endpoint))).toEqual(Exit.void)
      const context = yield* Layer.build(
        MetricsServer.layer({ host: "127.0.0.1", port: 0, probe: csiProbe(endpoint), checks: [] }).pipe(
          Layer.provide(Metrics.layer)
        )
      )
      const { port } = Context.get(context, MetricsServer)
      expect(yield* healthz(port)).toEqual({ status: 200, body: "ok" })
      yield* Scope.close(csi, Exit.void)
      // The answer is shared for a second: wait for the first probe after the stop.
      const down = yield* Effect.promise(() =>
        eventually(
          async () => {
            const answer = await Effect.runPromise(healthz(port))
            expect(answer.status).toBe(500)
            return answer
          },
          30_000,
          100
        )
      )
      expect(down.body).toMatch(/^CSI probe failed: \/csi.v1.Identity\/Probe UNAVAILABLE: .*ENOENT.*[^ ]\n$/)
      expect(down.body.split("\n")).toHaveLength(2)
    })
  )

  it.live("reaches a socket given by a path relative to the working directory", () =>
    Effect.gen(function* () {
      const socket = tempSocket()
      const csi = yield* startCsi(socket)
      const relative = path.relative(process.cwd(), socket)
      expect(path.isAbsolute(relative)).toBe(false)
      expect(channelAddress({ _tag: "unix", path: relative })).toBe(`unix://${socket}`)
      expect(yield* Effect.exit(csiProbe({ _tag: "unix", path: relative }))).toEqual(Exit.void)
      yield* Scope.close(csi, Exit.void)
    })
  )

  it.live("gives up after its deadline on a socket that accepts but never answers", () =>
    Effect.gen(function* () {
      const socket = tempSocket()
      yield* Effect.acquireRelease(
        Effect.callback<net.Server>((resume) => {
          const server = net.createServer(() => {}).listen(socket, () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.sync(() => void server.close())
      )
      const started = Date.now()
      const error = yield* Effect.flip(csiProbe({ _tag: "unix", path: socket }, "300 millis"))
      expect(error).toBe("CSI probe timed out after 300ms")
      // The server never answers: only the 300 ms timeout can end the probe (the bound leaves room for a busy machine).
      expect(Date.now() - started).toBeLessThan(10_000)
    })
  )

  it("dials a TCP server listening on every interface through loopback", () => {
    expect(channelAddress({ _tag: "tcp", host: "", port: 10000 })).toBe("127.0.0.1:10000")
    expect(channelAddress({ _tag: "tcp", host: "0.0.0.0", port: 10000 })).toBe("127.0.0.1:10000")
    expect(channelAddress({ _tag: "tcp", host: "10.0.0.7", port: 10000 })).toBe("10.0.0.7:10000")
  })
})

describe("providersCheck", () => {
  it.effect("passes with no or only healthy results and names each unhealthy provider", () =>
    Effect.gen(function* () {
      yield* providersCheck(Effect.succeed(new Map()))
      yield* providersCheck(Effect.succeed(new Map([["azure", { healthy: true, detail: "azure 1.0 (v1alpha1)" }]])))
      const reason = yield* Effect.flip(
        providersCheck(
          Effect.succeed(
            new Map([
              ["azure", { healthy: true, detail: "azure 1.0 (v1alpha1)" }],
              ["vault", { healthy: false, detail: 'provider "vault" unavailable' }],
              ["gcp", { healthy: false, detail: "deadline exceeded" }]
            ])
          )
        )
      )
      expect(reason).toBe('vault: provider "vault" unavailable; gcp: deadline exceeded')
    })
  )
})

describe("circuitsCheck", () => {
  it.effect("passes while no circuit refuses calls; names each open one and each with its trial in flight", () =>
    Effect.gen(function* () {
      const views = (entries: ReadonlyArray<readonly [string, CircuitView]>) => Effect.succeed(new Map(entries))
      yield* circuitsCheck(
        views([
          ["a", { _tag: "Closed" }],
          ["gcp", { _tag: "HalfOpen", trialInFlight: false }]
        ])
      )
      const failed = yield* Effect.flip(
        circuitsCheck(
          views([
            ["a", { _tag: "Closed" }],
            ["vault", { _tag: "Open", until: Date.UTC(2026, 0, 2, 3, 4, 5) }],
            ["aws", { _tag: "HalfOpen", trialInFlight: true }],
            ["gcp", { _tag: "HalfOpen", trialInFlight: false }]
          ])
        )
      )
      expect(failed).toBe(
        "vault: circuit open until 2026-01-02T03:04:05Z; aws: circuit half-open, its trial call in flight"
      )
    })
  )
})
