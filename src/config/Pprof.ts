// --enable-pprof on Node: Go's pprof server has no Node equivalent, so the flag opens the V8 inspector
// (CPU and heap profiles through Chrome DevTools) on 127.0.0.1:--pprof-port for the layer's lifetime.
// Loopback only, unlike upstream's all-interfaces pprof: the inspector can run code. Reach it by port-forward.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as inspector from "node:inspector"
import type { DriverConfigShape } from "./DriverConfig.js"

export const PPROF_HOST = "127.0.0.1"

export class InspectorError extends Schema.TaggedError<InspectorError>()("InspectorError", {
  message: Schema.String,
  cause: Schema.Defect()
}) {}

const openInspector = (port: number) =>
  Effect.try({
    try: () => {
      inspector.open(port, PPROF_HOST)
      // A busy port does not throw: Node prints a warning and leaves the inspector closed.
      const url = inspector.url()
      if (url === undefined) throw new Error("the port is in use or the inspector is disabled")
      return url
    },
    catch: (cause) =>
      new InspectorError({ message: `cannot open the inspector on ${PPROF_HOST}:${port} for --enable-pprof`, cause })
  })

/** Open while the layer lives, closed on shutdown; nothing at all without --enable-pprof. */
export const pprofLayer = (config: Pick<DriverConfigShape, "enablePprof" | "pprofPort">): Layer.Layer<never, InspectorError> =>
  config.enablePprof
    ? Layer.effectDiscard(
      Effect.acquireRelease(openInspector(config.pprofPort), () => Effect.sync(() => inspector.close())).pipe(
        // Only host:port: the inspector URL's session id is what a debugger needs to attach.
        Effect.tap((url) => Effect.logInfo("profiling inspector listening").pipe(Effect.annotateLogs({ address: new URL(url).host })))
      )
    )
    : Layer.empty
