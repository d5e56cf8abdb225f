// The driver's metrics with upstream v1.6's wire names and labels (docs/contract.md#metrics,
// docs/upstream.md#metrics), one typed
// recording method per instrument, and `render` for /metrics. `error_type` is always a FailureReason; a
// `provider` comes from a request, so past the first 32 distinct ones they count as `other` (PrometheusText.ts).
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { FailureReason } from "../domain/FailureReason.js"
import { makeProcessMetrics } from "./ProcessMetrics.js"
import { counter, histogram, renderFamilies } from "./PrometheusText.js"

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
