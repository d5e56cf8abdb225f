// The Metrics service as Prometheus sees it: a scripted sequence of recordings, rendered and parsed back.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { DURATION_BUCKETS, Metrics, osType } from "../../src/metrics/Metrics.js"
import { parsePrometheus, samplesOf } from "./parsePrometheus.js"

const DRIVER_FAMILIES = [
  "node_publish_total",
  "node_unpublish_total",
  "node_publish_error_total",
  "node_unpublish_error_total",
  "sync_k8s_secret_total",
  "sync_k8s_secret_duration_sec",
  "rotation_reconcile_total",
  "rotation_reconcile_error_total",
  "rotation_reconcile_duration_sec"
]

const scripted = Effect.gen(function* () {
  const metrics = yield* Metrics
  yield* metrics.publishSucceeded("azure")
  yield* metrics.publishSucceeded("azure")
  yield* metrics.publishFailed("vault", "ProviderTimeout")
  yield* metrics.unpublishSucceeded
  yield* metrics.rotationSucceeded("azure", 0.3)
  yield* metrics.secretSynced("azure", 0.004)
  return parsePrometheus(yield* metrics.render)
})

describe("Metrics", () => {
  it.effect("renders exactly the recorded counters with upstream's names and label sets", () =>
    Effect.gen(function* () {
      const exposition = yield* scripted
      expect(osType).toBe("linux")
      const os_type = "linux"
      expect(samplesOf(exposition, "node_publish_total")).toEqual([
        { labels: { provider: "azure", os_type }, value: 2 }
      ])
      expect(samplesOf(exposition, "node_publish_error_total")).toEqual([
        { labels: { provider: "vault", error_type: "ProviderTimeout", os_type }, value: 1 }
      ])
      expect(samplesOf(exposition, "node_unpublish_total")).toEqual([{ labels: { os_type }, value: 1 }])
      expect(samplesOf(exposition, "rotation_reconcile_total")).toEqual([
        { labels: { provider: "azure", os_type, rotated: "true" }, value: 1 }
      ])
      expect(samplesOf(exposition, "sync_k8s_secret_total")).toEqual([
        { labels: { provider: "azure", os_type }, value: 1 }
      ])
      // Nothing was recorded for these, so (as with client_golang) they are not exposed at all.
      expect(samplesOf(exposition, "node_unpublish_error_total")).toEqual([])
      expect(samplesOf(exposition, "rotation_reconcile_error_total")).toEqual([])
      expect(exposition.types.get("node_publish_total")).toBe("counter")
      expect(exposition.types.get("rotation_reconcile_duration_sec")).toBe("histogram")
      const driverSamples = exposition.samples.filter((s) => DRIVER_FAMILIES.some((f) => s.name.startsWith(f)))
      const counterSamples = driverSamples.filter((s) => s.name.endsWith("_total"))
      expect(counterSamples).toHaveLength(5)
    }).pipe(Effect.provide(Metrics.layer))
  )

  it.effect("records rotation and unpublish failures with their own labels", () =>
    Effect.gen(function* () {
      const metrics = yield* Metrics
      yield* metrics.rotationFailed("gcp", "ProviderUnavailable")
      yield* metrics.rotationFailed("gcp", "ProviderUnavailable")
      yield* metrics.unpublishFailed
      const exposition = parsePrometheus(yield* metrics.render)
      expect(samplesOf(exposition, "rotation_reconcile_error_total")).toEqual([
        { labels: { provider: "gcp", error_type: "ProviderUnavailable", os_type: "linux", rotated: "false" }, value: 2 }
      ])
      expect(samplesOf(exposition, "node_unpublish_error_total")).toEqual([{ labels: { os_type: "linux" }, value: 1 }])
      expect(samplesOf(exposition, "node_publish_total")).toEqual([])
    }).pipe(Effect.provide(Metrics.layer))
  )

  it.effect("renders histograms with cumulative buckets from 1 ms to 2 min, +Inf equal to the count", () =>
    Effect.gen(function* () {
      const metrics = yield* Metrics
      for (const seconds of [0.0005, 0.3, 0.3, 7, 500]) yield* metrics.rotationSucceeded("azure", seconds)
      const exposition = parsePrometheus(yield* metrics.render)
      const buckets = samplesOf(exposition, "rotation_reconcile_duration_sec_bucket")
      expect(buckets.map((b) => b.labels["le"])).toEqual([...DURATION_BUCKETS.map(String), "+Inf"])
      expect(buckets.every((b) => b.labels["os_type"] === "linux")).toBe(true)
      const counts = buckets.map((b) => b.value)
      counts.forEach((count, i) => expect(count).toBeGreaterThanOrEqual(counts[i - 1] ?? 0))
      expect(Object.fromEntries(buckets.map((b) => [b.labels["le"], b.value]))).toMatchObject({
        "0.001": 1,
        "0.25": 1,
        "0.5": 3,
        "5": 3,
        "10": 4,
        "120": 4,
        "+Inf": 5
      })
      expect(samplesOf(exposition, "rotation_reconcile_duration_sec_count")).toEqual([
        { labels: { os_type: "linux" }, value: 5 }
      ])
      const [sum] = samplesOf(exposition, "rotation_reconcile_duration_sec_sum")
      expect(sum?.value).toBeCloseTo(507.6005, 6)
    }).pipe(Effect.provide(Metrics.layer))
  )

  it.effect("escapes quotes, backslashes and newlines in label values", () =>
    Effect.gen(function* () {
      const metrics = yield* Metrics
      const hostile = 'a"b\\c\nd'
      yield* metrics.publishSucceeded(hostile)
      const text = yield* metrics.render
      expect(text).toContain(`node_publish_total{provider="a\\"b\\\\c\\nd",os_type="linux"} 1\n`)
      expect(samplesOf(parsePrometheus(text), "node_publish_total")).toEqual([
        { labels: { provider: hostile, os_type: "linux" }, value: 1 }
      ])
    }).pipe(Effect.provide(Metrics.layer))
  )

  it.effect("adds process metrics on every scrape", () =>
    Effect.gen(function* () {
      const metrics = yield* Metrics
      const exposition = parsePrometheus(yield* metrics.render)
      const value = (name: string) => samplesOf(exposition, name)[0]?.value ?? Number.NaN
      expect(value("process_resident_memory_bytes")).toBeGreaterThan(10 * 1024 * 1024)
      expect(value("nodejs_heap_used_bytes")).toBeGreaterThan(0)
      expect(value("nodejs_heap_total_bytes")).toBeGreaterThanOrEqual(value("nodejs_heap_used_bytes"))
      expect(value("nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0)
      expect(value("process_cpu_seconds_total")).toBeGreaterThan(0)
      const start = value("process_start_time_seconds")
      expect(start).toBeLessThanOrEqual(Date.now() / 1000)
      expect(start).toBeGreaterThan(Date.now() / 1000 - 3600)
      expect(exposition.types.get("process_cpu_seconds_total")).toBe("counter")
      expect(exposition.types.get("nodejs_eventloop_lag_seconds")).toBe("gauge")
      // Two services, two registries: recordings never leak between them.
      expect(exposition.samples.filter((s) => DRIVER_FAMILIES.some((f) => s.name.startsWith(f)))).toEqual([])
    }).pipe(Effect.provide(Metrics.layer))
  )

  it.effect("20,000 distinct provider names stay a bounded set of series: the first 32, then `other`", () =>
    Effect.gen(function* () {
      const metrics = yield* Metrics
      for (let i = 0; i < 20_000; i++) {
        yield* metrics.publishSucceeded(`provider-${i}`)
        yield* metrics.publishFailed(`provider-${i}`, "ProviderNotFound")
        yield* metrics.rotationFailed(`provider-${i}`, "ProviderError")
      }
      const text = yield* metrics.render
      const exposition = parsePrometheus(text)
      for (const family of ["node_publish_total", "node_publish_error_total", "rotation_reconcile_error_total"]) {
        const samples = samplesOf(exposition, family)
        const providers = new Set(samples.map((s) => s.labels["provider"]))
        expect(providers.size).toBe(33)
        expect(providers.has("provider-0") && providers.has("provider-31") && providers.has("other")).toBe(true)
        expect(samples.find((s) => s.labels["provider"] === "other")?.value).toBe(20_000 - 32)
        expect(samples.reduce((sum, s) => sum + s.value, 0)).toBe(20_000)
      }
      expect(text.length).toBeLessThan(64 * 1024)
    }).pipe(Effect.provide(Metrics.layer))
  )
})

describe("provider metrics", () => {
  it.effect("Mount outcomes, latency, coalesced and stale serves, circuit state and health, per provider", () =>
    Effect.gen(function* () {
      const metrics = yield* Metrics
      yield* metrics.providerMountEnded("vault", 0.02, undefined)
      yield* metrics.providerMountEnded("vault", 5, "ProviderTimeout")
      yield* metrics.providerMountCoalesced("vault")
      yield* metrics.providerStaleServed("vault")
      yield* metrics.providerCircuitState("vault", 2)
      yield* metrics.providerCircuitState("vault", 0)
      yield* metrics.providerHealthStatus("vault", false)
      const exposition = parsePrometheus(yield* metrics.render)
      const labels = { provider: "vault", os_type: "linux" }
      expect(samplesOf(exposition, "provider_mount_total")).toEqual([{ labels, value: 1 }])
      expect(samplesOf(exposition, "provider_mount_error_total")).toEqual([
        { labels: { provider: "vault", error_type: "ProviderTimeout", os_type: "linux" }, value: 1 }
      ])
      expect(samplesOf(exposition, "provider_mount_duration_seconds_count")).toEqual([{ labels, value: 2 }])
      expect(samplesOf(exposition, "provider_mount_coalesced_total")).toEqual([{ labels, value: 1 }])
      expect(samplesOf(exposition, "provider_stale_served_total")).toEqual([{ labels, value: 1 }])
      expect(samplesOf(exposition, "provider_circuit_state")).toEqual([{ labels, value: 0 }])
      expect(samplesOf(exposition, "provider_health_check_status")).toEqual([{ labels, value: 0 }])
    }).pipe(Effect.provide(Metrics.layer))
  )

  it.effect("a provider gone from the node leaves the health gauge; the others stay", () =>
    Effect.gen(function* () {
      const metrics = yield* Metrics
      yield* metrics.providerHealthStatus("vault", false)
      yield* metrics.providerHealthStatus("aws", true)
      yield* metrics.providerHealthStatus("vault", undefined)
      const exposition = parsePrometheus(yield* metrics.render)
      expect(samplesOf(exposition, "provider_health_check_status")).toEqual([
        { labels: { provider: "aws", os_type: "linux" }, value: 1 }
      ])
    }).pipe(Effect.provide(Metrics.layer))
  )
})
