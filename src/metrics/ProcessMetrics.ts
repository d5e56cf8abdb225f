// Process and runtime metrics read at scrape time (the Node counterparts of client_golang's process and Go
// collectors). The event-loop delay monitor is a scoped resource: enabled with the layer, disabled on shutdown.
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { sampled, type Family } from "./PrometheusText.js"

const NANOS_PER_SECOND = 1e9

/** The delay histogram is reset after every scrape, as prom-client does: the lag gauges cover one interval. */
const eventLoopDelay: Effect.Effect<{ mean: () => number; p99: () => number; reset: () => void }, never, Scope.Scope> =
  Effect.acquireRelease(
    Effect.sync(() => {
      const monitor = monitorEventLoopDelay({ resolution: 20 })
      monitor.enable()
      return monitor
    }),
    (monitor) => Effect.sync(() => monitor.disable())
  ).pipe(
    Effect.map((monitor) => ({
      // With no samples yet the histogram's mean is NaN; report no lag rather than NaN.
      mean: () => (monitor.count === 0 ? 0 : monitor.mean / NANOS_PER_SECOND),
      p99: () => (monitor.count === 0 ? 0 : monitor.percentile(99) / NANOS_PER_SECOND),
      reset: () => monitor.reset()
    }))
  )

/** The families, plus the hook that closes one scrape. */
export const makeProcessMetrics: Effect.Effect<
  { readonly families: ReadonlyArray<Family>; readonly afterScrape: () => void },
  never,
  Scope.Scope
> = Effect.map(eventLoopDelay, (lag) => {
  const startSeconds = performance.timeOrigin / 1000
  const families = [
    sampled("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", () =>
      process.memoryUsage.rss()
    ),
    sampled("nodejs_heap_used_bytes", "V8 heap used in bytes.", "gauge", () => process.memoryUsage().heapUsed),
    sampled("nodejs_heap_total_bytes", "V8 heap allocated in bytes.", "gauge", () => process.memoryUsage().heapTotal),
    sampled(
      "nodejs_eventloop_lag_seconds",
      "Mean event loop delay since the previous scrape, in seconds.",
      "gauge",
      lag.mean
    ),
    sampled(
      "nodejs_eventloop_lag_p99_seconds",
      "99th percentile event loop delay since the previous scrape, in seconds.",
      "gauge",
      lag.p99
    ),
    sampled("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", () => {
      const { user, system } = process.cpuUsage()
      return (user + system) / 1e6
    }),
    sampled(
      "process_start_time_seconds",
      "Start time of the process since unix epoch in seconds.",
      "gauge",
      () => startSeconds
    )
  ]
  return { families, afterScrape: lag.reset }
})
