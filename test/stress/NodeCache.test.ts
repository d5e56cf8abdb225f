// The built driver with the node cache and the circuit breaker against a test provider made slow, dead and alive:
// 20 concurrent first publishes of one key cost one provider call (20 without the annotation); with the provider
// dead a cached key is served stale with a ServedStale Event, another service account is not, a key never fetched
// fails fast once the circuit is open, nothing is served past the max staleness; recovery closes the circuit and the
// next republish refreshes.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Status } from "nice-grpc"
import { eventually } from "../support/ChildProcess.js"
import { outcomeOf, typedReasonOf } from "../support/CsiOutcome.js"
import { resources } from "../support/FakeApiStore.js"
import { freePort } from "../support/Inspector.js"
import {
  kubeletPublish,
  mountsUnder,
  readThroughData,
  SPC_NAME,
  startStressNode,
  type StressNode,
  stressSpc,
  targetFor
} from "../support/StressHarness.js"
import { failWith, type MountBehaviour, respondFiles } from "../support/TestProvider.js"

const annotated = (name: string, staleness: string) => ({
  ...stressSpc,
  metadata: {
    name,
    namespace: "default",
    annotations: { "secrets-store.csi.k8s.io/node-cache-max-staleness": staleness }
  }
})
const CACHED = "cached-spc"
const SHORT = "short-spc"
const N = 20

let node: StressNode
let metricsPort: number
beforeAll(async () => {
  metricsPort = await freePort()
  node = await startStressNode({
    driverArgs: ["--provider-circuit-threshold=2", `--metrics-addr=127.0.0.1:${metricsPort}`]
  })
  node.api.seed(annotated(CACHED, "1h"))
  node.api.seed(annotated(SHORT, "1s"))
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

const publish = (uid: string, spc: string, serviceAccount = "default") =>
  outcomeOf(
    node.csi().node.nodePublishVolume(
      kubeletPublish(targetFor(node.kubelet, uid), uid, {
        volumeContext: {
          ...kubeletPublish("", uid).volumeContext,
          secretProviderClass: spc,
          "csi.storage.k8s.io/serviceAccount.name": serviceAccount
        }
      })
    )
  )

/** A behaviour held until `release()`; `files` answered then. */
const gated = (text: string) => {
  let release!: () => void
  const opened = new Promise<void>((resolve) => (release = resolve))
  const behaviour: MountBehaviour = async (request, context) => {
    await opened
    return respondFiles([{ path: "secret", contents: text }], [{ id: "secret/s", version: text }])(request, context)
  }
  return { behaviour, release }
}

const eventsResource = resources.find((r) => r.plural === "events")!
const warnings = (pod: string, reason: string) =>
  node.api.store
    .list(eventsResource, "default")
    .filter((e) => e["reason"] === reason && (e["involvedObject"] as { name: string }).name === pod)
    .map((e) => String(e["message"]))

const timings: Record<string, number> = {}

const scrape = async (path: string) => {
  const response = await fetch(`http://127.0.0.1:${metricsPort}${path}`)
  return { status: response.status, text: await response.text() }
}
/** The value of one sample line of /metrics, e.g. `provider_circuit_state{provider="test",os_type="linux"}`. */
const sample = (text: string, series: string) =>
  Number(
    text
      .split("\n")
      .find((line) => line.startsWith(`${series} `))
      ?.slice(series.length + 1) ?? Number.NaN
  )
const test = '{provider="test",os_type="linux"}'

describe("node cache and circuit breaker through the built driver", () => {
  it("20 concurrent first publishes of one key: 1 provider call with the annotation, 20 without", async () => {
    for (const [spc, prefix, expected] of [
      [CACHED, "c", 1],
      [SPC_NAME, "u", N]
    ] as const) {
      const gate = gated(`v1-${prefix}`)
      node.provider.onMount(gate.behaviour)
      const before = node.provider.mountRequests().length
      const mountsBefore = mountsUnder(node.kubelet).length
      const outcomes = Array.from({ length: N }, (_, i) => publish(`${prefix}-${i}`, spc))
      // Every publish mounts its tmpfs right before it asks for the payload: once all are mounted, all are asking.
      await eventually(() => expect(mountsUnder(node.kubelet).length - mountsBefore).toBe(N), 60_000)
      if (expected === N) await eventually(() => expect(node.provider.mountRequests().length - before).toBe(N))
      gate.release()
      expect(await Promise.all(outcomes)).toEqual(Array.from({ length: N }, () => ({ ok: true })))
      expect(node.provider.mountRequests().length - before).toBe(expected)
      for (let i = 0; i < N; i++) {
        expect(readThroughData(targetFor(node.kubelet, `${prefix}-${i}`))).toEqual({ secret: `v1-${prefix}` })
      }
    }
    // The short-lived class gets an entry too, for the staleness test below.
    node.provider.onMount(respondFiles([{ path: "secret", contents: "short" }]))
    expect(await publish("s-0", SHORT)).toEqual({ ok: true })
  }, 120_000)

  it("provider dead: a cached key is served stale with a ServedStale Event, another service account not", async () => {
    node.provider.onMount(failWith(Status.UNAVAILABLE, "store down"))
    expect(await publish("stale-1", CACHED)).toEqual({ ok: true })
    expect(readThroughData(targetFor(node.kubelet, "stale-1"))).toEqual({ secret: "v1-c" })
    const messages = await eventually(() => {
      const found = warnings("pod-stale-1", "ServedStale")
      expect(found).toHaveLength(1)
      return found
    })
    expect(messages[0]).toMatch(/SecretProviderClass default\/cached-spc: .*fetched \d+s ago.*next republish/)
    const spcps = resources.find((r) => r.plural === "secretproviderclasspodstatuses")!
    const status = node.api.store.get(spcps, "default", `pod-stale-1-default-${CACHED}`)?.["status"]
    expect((status as { objects: unknown }).objects).toEqual([{ id: "secret/s", version: "v1-c" }])

    const intruder = await publish("stale-2", CACHED, "intruder")
    expect(typedReasonOf(intruder)).toBe("ProviderUnavailable")
    expect(warnings("pod-stale-2", "ServedStale")).toEqual([])
  }, 60_000)

  it("circuit open: a key never fetched fails fast without reaching the provider; the cached key still", async () => {
    // Two outages in a row (the stale serve above was one) open the circuit.
    await eventually(
      async () => {
        const calls = node.provider.mountRequests().length
        const started = Date.now()
        const outcome = await publish(`never-${calls}`, SPC_NAME)
        expect(typedReasonOf(outcome)).toBe("ProviderUnavailable")
        expect(outcome.ok ? "" : outcome.details).toMatch(/circuit open for provider "test" until \d{4}-/)
        expect(node.provider.mountRequests().length).toBe(calls)
        timings["failFastMillis"] = Date.now() - started
      },
      30_000,
      100
    )
    expect(await publish("stale-3", CACHED)).toEqual({ ok: true })
    expect(readThroughData(targetFor(node.kubelet, "stale-3"))).toEqual({ secret: "v1-c" })
    // Readiness (never liveness) names the open circuit; the gauge says so. The stale serves are counted.
    await eventually(async () =>
      expect((await scrape("/readyz")).text).toMatch(
        /\[-\]provider-circuits failed: test: circuit (open until \d{4}-|half-open)/
      )
    )
    expect((await scrape("/healthz")).status).toBe(200)
    const metrics = (await scrape("/metrics")).text
    expect([1, 2]).toContain(sample(metrics, `provider_circuit_state${test}`))
    expect(sample(metrics, `provider_stale_served_total${test}`)).toBe(2)
    expect(sample(metrics, `provider_mount_coalesced_total${test}`)).toBe(N - 1)
  }, 60_000)

  it("past the max staleness nothing is served", async () => {
    // The short class's entry is older than 1s by now; publishes fail as if there were no cache.
    const outcome = await publish("short-late", SHORT)
    expect(typedReasonOf(outcome)).toBe("ProviderUnavailable")
    const target = targetFor(node.kubelet, "short-late")
    expect(fs.existsSync(path.join(target, "..data"))).toBe(false)
  }, 60_000)

  it("a bad max staleness fails the publish as an invalid class, naming the class and the annotation", async () => {
    node.api.seed(annotated("bad-spc", "soon"))
    const outcome = await publish("bad-1", "bad-spc")
    expect(typedReasonOf(outcome)).toBe("InvalidSecretProviderClass")
    expect(outcome.ok ? "" : outcome.details).toMatch(
      /default\/bad-spc: annotation secrets-store.csi.k8s.io\/node-cache-max-staleness is "soon"/
    )
  }, 60_000)

  it("recovery closes the circuit and the next republish refreshes the stale volume", async () => {
    node.provider.onMount(respondFiles([{ path: "secret", contents: "v2" }], [{ id: "secret/s", version: "v2" }]))
    await eventually(async () => expect(await publish("back-1", SPC_NAME)).toEqual({ ok: true }), 60_000, 250)
    expect(await publish("stale-1", CACHED)).toEqual({ ok: true })
    expect(readThroughData(targetFor(node.kubelet, "stale-1"))).toEqual({ secret: "v2" })
    const metrics = (await scrape("/metrics")).text
    expect(sample(metrics, `provider_circuit_state${test}`)).toBe(0)
    expect(
      sample(metrics, `provider_mount_error_total{provider="test",error_type="ProviderUnavailable",os_type="linux"}`)
    ).toBeGreaterThan(0)
    expect(sample(metrics, `provider_mount_total${test}`)).toBeGreaterThan(N)
    // /readyz answers are shared for a second: wait for a fresh one.
    await eventually(async () => expect((await scrape("/readyz")).text).toContain("[+]provider-circuits ok\n"))
    console.log(`measured: a publish refused by the open circuit took ${timings["failFastMillis"]} ms`)
  }, 90_000)
})
