// The driver's metrics with upstream v1.6's wire names and labels (docs/contract.md#metrics,
// docs/upstream.md#metrics), one typed
// recording method per instrument, and `render` for /metrics. `error_type` is always a FailureReason; a
// `provider` comes from a request, so past the first 32 distinct ones they count as `other` (PrometheusText.ts).
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { FailureReason } from "../domain/FailureReason.js"
import { makeProcessMetrics } from "./ProcessMetrics.js"
import { counter, gauge, histogram, renderFamilies } from "./PrometheusText.js"

/** Go's GOOS spelling of the platform, as upstream's `os_type` label carries it. */
export const osType: string = process.platform === "win32" ? "windows" : process.platform

/** 1 ms to 2 min: a publish can be that fast, and kubelet gives up at 2 min (upstream's 0.1–2 s cut both ends). */
export const DURATION_BUCKETS: ReadonlyArray<number> = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120
]

/** Recording methods are plain syncs, not spans: a span per counter increment would cost more than the count. */
export interface MetricsShape {
  /** Every successful NodePublishVolume, including no-op republishes and rotation skips. */
  readonly publishSucceeded: (provider: string) => Effect.Effect<void>
  /** A failed NodePublishVolume, and a masked (reported-as-success) republish failure. */
  readonly publishFailed: (provider: string, reason: FailureReason) => Effect.Effect<void>
  readonly unpublishSucceeded: Effect.Effect<void>
  readonly unpublishFailed: Effect.Effect<void>
  /** One reconcile of a synced Kubernetes Secret, with its duration. */
  readonly secretSynced: (provider: string, seconds: number) => Effect.Effect<void>
  /** A republish that called the provider and succeeded (v1.6: `rotated="true"`), with its duration. */
  readonly rotationSucceeded: (provider: string, seconds: number) => Effect.Effect<void>
  /** A republish that called the provider and failed (v1.6: `rotated="false"`). */
  readonly rotationFailed: (provider: string, reason: FailureReason) => Effect.Effect<void>
  /** A Mount call that reached the provider: `reason` undefined when it succeeded; with its duration. */
  readonly providerMountEnded: (
    provider: string,
    seconds: number,
    reason: FailureReason | undefined
  ) => Effect.Effect<void>
  /** A publish served by another publish's in-flight Mount call (the node cache). */
  readonly providerMountCoalesced: (provider: string) => Effect.Effect<void>
  /** A first publish served a cached payload because the provider failed. */
  readonly providerStaleServed: (provider: string) => Effect.Effect<void>
  /** 0 closed, 1 half-open, 2 open. */
  readonly providerCircuitState: (provider: string, value: number) => Effect.Effect<void>
  /** `undefined`: the provider is gone from the node (no socket), and its series goes with it. */
  readonly providerHealthStatus: (provider: string, healthy: boolean | undefined) => Effect.Effect<void>
  /** The Prometheus text exposition (format 0.0.4) of the driver's and the process's metrics. */
  readonly render: Effect.Effect<string>
  /**
   * One restart request after a rotation: `kind` the pod's controller (Deployment, StatefulSet, DaemonSet, Pod,
   * Job, …), `result` restarted, unchanged, deferred (by the cooldown), progressing, failed or unsupported.
   */
  readonly rotationRestart: (kind: string, result: string) => Effect.Effect<void>
}

const makeInstruments = () => ({
  publish: counter("node_publish_total", "Total number of node publish calls", ["provider", "os_type"]),
  unpublish: counter("node_unpublish_total", "Total number of node unpublish calls", ["os_type"]),
  publishError: counter("node_publish_error_total", "Total number of node publish calls with errors", [
    "provider",
    "error_type",
    "os_type"
  ]),
  unpublishError: counter("node_unpublish_error_total", "Total number of node unpublish calls with errors", [
    "os_type"
  ]),
  sync: counter("sync_k8s_secret_total", "Total number of k8s secrets synced", ["provider", "os_type"]),
  syncDuration: histogram(
    "sync_k8s_secret_duration_sec",
    "Distribution of how long it took to sync k8s secret",
    ["os_type"],
    DURATION_BUCKETS
  ),
  rotation: counter("rotation_reconcile_total", "Total number of rotation reconciles", [
    "provider",
    "os_type",
    "rotated"
  ]),
  rotationError: counter("rotation_reconcile_error_total", "Total number of rotation reconciles with error", [
    "provider",
    "error_type",
    "os_type",
    "rotated"
  ]),
  rotationDuration: histogram(
    "rotation_reconcile_duration_sec",
    "Distribution of how long it took to rotate secrets-store content for pods",
    ["os_type"],
    DURATION_BUCKETS
  ),
  rotationRestart: counter("rotation_restart_total", "Total number of workload restarts asked for by a rotation", [
    "kind",
    "result",
    "os_type"
  ]),
  providerMount: counter(
    "provider_mount_total",
    "Total number of Mount calls that reached the provider and succeeded",
    ["provider", "os_type"]
  ),
  providerMountError: counter(
    "provider_mount_error_total",
    "Total number of Mount calls that reached the provider and failed",
    ["provider", "error_type", "os_type"]
  ),
  providerMountDuration: histogram(
    "provider_mount_duration_seconds",
    "Distribution of how long Mount calls to the provider took",
    ["provider", "os_type"],
    DURATION_BUCKETS
  ),
  providerMountCoalesced: counter(
    "provider_mount_coalesced_total",
    "Total number of publishes served by another publish's in-flight Mount call",
    ["provider", "os_type"]
  ),
  providerStaleServed: counter(
    "provider_stale_served_total",
    "Total number of first publishes served a cached payload because the provider failed",
    ["provider", "os_type"]
  ),
  providerCircuitState: gauge(
    "provider_circuit_state",
    "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open",
    ["provider", "os_type"]
  ),
  providerHealthCheckStatus: gauge("provider_health_check_status", "Last provider health check: 1 healthy, 0 failing", [
    "provider",
    "os_type"
  ])
})

const make = Effect.gen(function* () {
  const m = makeInstruments()
  const processMetrics = yield* makeProcessMetrics
  const os_type = osType
  const driverFamilies = Object.values(m)
  return Metrics.of({
    publishSucceeded: (provider) => Effect.sync(() => m.publish.inc({ provider, os_type })),
    publishFailed: (provider, error_type) => Effect.sync(() => m.publishError.inc({ provider, error_type, os_type })),
    unpublishSucceeded: Effect.sync(() => m.unpublish.inc({ os_type })),
    unpublishFailed: Effect.sync(() => m.unpublishError.inc({ os_type })),
    secretSynced: (provider, seconds) =>
      Effect.sync(() => {
        m.sync.inc({ provider, os_type })
        m.syncDuration.observe({ os_type }, seconds)
      }),
    rotationSucceeded: (provider, seconds) =>
      Effect.sync(() => {
        m.rotation.inc({ provider, os_type, rotated: "true" })
        m.rotationDuration.observe({ os_type }, seconds)
      }),
    rotationFailed: (provider, error_type) =>
      Effect.sync(() => m.rotationError.inc({ provider, error_type, os_type, rotated: "false" })),
    providerMountEnded: (provider, seconds, error_type) =>
      Effect.sync(() => {
        if (error_type === undefined) m.providerMount.inc({ provider, os_type })
        else m.providerMountError.inc({ provider, error_type, os_type })
        m.providerMountDuration.observe({ provider, os_type }, seconds)
      }),
    providerMountCoalesced: (provider) => Effect.sync(() => m.providerMountCoalesced.inc({ provider, os_type })),
    providerStaleServed: (provider) => Effect.sync(() => m.providerStaleServed.inc({ provider, os_type })),
    providerCircuitState: (provider, value) =>
      Effect.sync(() => m.providerCircuitState.set({ provider, os_type }, value)),
    providerHealthStatus: (provider, healthy) =>
      Effect.sync(() =>
        healthy === undefined
          ? m.providerHealthCheckStatus.remove({ provider, os_type })
          : m.providerHealthCheckStatus.set({ provider, os_type }, healthy ? 1 : 0)
      ),
    render: Effect.sync(() => {
      const text = renderFamilies([...driverFamilies, ...processMetrics.families])
      processMetrics.afterScrape()
      return text
    }),
    rotationRestart: (kind, result) => Effect.sync(() => m.rotationRestart.inc({ kind, result, os_type }))
  })
})

export class Metrics extends Context.Service<Metrics, MetricsShape>()("Metrics") {
  /** Live and cheap: tests use it too and read it back through `render`. */
  static readonly layer: Layer.Layer<Metrics> = Layer.effect(Metrics, make)
}
