// The sync controller's metrics, in the driver's style (src/metrics/Metrics.ts): syncs by result and reason with
// their durations, provider calls, Secret applies (full syncs and re-applies), leadership, and the process
// metrics. `error_type` is always a FailureReason ("" on success); provider labels are bounded by PrometheusText.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { FailureReason } from "../domain/FailureReason.js"
import { DURATION_BUCKETS } from "../metrics/Metrics.js"
import { makeProcessMetrics } from "../metrics/ProcessMetrics.js"
import { counter, histogram, renderFamilies, sampled } from "../metrics/PrometheusText.js"

export type ApplyTrigger = "sync" | "reapply"

export interface ControllerMetricsShape {
  readonly syncSucceeded: (provider: string, seconds: number) => Effect.Effect<void>
  readonly syncFailed: (provider: string, reason: FailureReason, seconds: number) => Effect.Effect<void>
  readonly providerCall: (provider: string, reason: FailureReason | undefined, seconds: number) => Effect.Effect<void>
  /** `changed`: the apply wrote something (a new resourceVersion), e.g. restored a deleted Secret. */
  readonly secretApplied: (trigger: ApplyTrigger, changed: boolean) => Effect.Effect<void>
  readonly secretApplyFailed: (trigger: ApplyTrigger, reason: FailureReason) => Effect.Effect<void>
  readonly setLeader: (leader: boolean) => Effect.Effect<void>
  readonly render: Effect.Effect<string>
}

const make = Effect.gen(function* () {
  const sync = counter("secretsync_sync_total", "SecretSync reconciles that called the provider, by result", [
    "provider",
    "result",
    "error_type"
  ])
  const syncDuration = histogram(
    "secretsync_sync_duration_sec",
    "Duration of one SecretSync sync",
    ["provider"],
    DURATION_BUCKETS
  )
  const calls = counter("secretsync_provider_call_total", "Provider Mount calls, by result", [
    "provider",
    "result",
    "error_type"
  ])
  const callDuration = histogram(
    "secretsync_provider_call_duration_sec",
    "Duration of one provider Mount call",
    ["provider"],
    DURATION_BUCKETS
  )
  const applies = counter("secretsync_secret_apply_total", "Server-side applies of synced Secrets", [
    "trigger",
    "result",
    "error_type"
  ])
  let leader = 0
  const leaderGauge = sampled(
    "secretsync_leader",
    "1 while this replica holds the leader Lease (or runs without election)",
    "gauge",
    () => leader
  )
  const processMetrics = yield* makeProcessMetrics
  const families = [sync, syncDuration, calls, callDuration, applies, leaderGauge]
  return ControllerMetrics.of({
    syncSucceeded: (provider, seconds) =>
      Effect.sync(() => {
        sync.inc({ provider, result: "success", error_type: "" })
        syncDuration.observe({ provider }, seconds)
      }),
    syncFailed: (provider, reason, seconds) =>
      Effect.sync(() => {
        sync.inc({ provider, result: "failure", error_type: reason })
        syncDuration.observe({ provider }, seconds)
      }),
    providerCall: (provider, reason, seconds) =>
      Effect.sync(() => {
        calls.inc({ provider, result: reason === undefined ? "success" : "failure", error_type: reason ?? "" })
        callDuration.observe({ provider }, seconds)
      }),
    secretApplied: (trigger, changed) =>
      Effect.sync(() => applies.inc({ trigger, result: changed ? "changed" : "unchanged", error_type: "" })),
    secretApplyFailed: (trigger, reason) =>
      Effect.sync(() => applies.inc({ trigger, result: "failure", error_type: reason })),
    setLeader: (value) => Effect.sync(() => void (leader = value ? 1 : 0)),
    render: Effect.sync(() => {
      const text = renderFamilies([...families, ...processMetrics.families])
      processMetrics.afterScrape()
      return text
    })
  })
})

export class ControllerMetrics extends Context.Service<ControllerMetrics, ControllerMetricsShape>()(
  "ControllerMetrics"
) {
  static readonly layer: Layer.Layer<ControllerMetrics> = Layer.effect(ControllerMetrics, make)
}
