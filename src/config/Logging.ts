// klog-compatible logging: `-v` verbosity gates logV(n) lines like klog.V(n).Info, and --log-format-json picks
// one JSON object per line over a one-line logfmt text. Both go to stderr, where klog writes.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type { DriverConfigShape } from "./DriverConfig.js"

/** The `-v` level of this process; 0 unless Logging.layer (or a test) provides another. */
export const Verbosity = Context.Reference<number>("Verbosity", { defaultValue: () => 0 })

/**
 * Logs at Info only when the verbosity is at least `level`, like klog.V(level).Info. The level travels as the
 * `v` annotation (klog's JSON key) so a reader can tell routine detail from what is always logged.
 */
export const logV = (
  level: number,
  message: string,
  annotations?: Readonly<Record<string, unknown>>
): Effect.Effect<void> =>
  Effect.flatMap(Verbosity, (verbosity) =>
    verbosity < level ? Effect.void : Effect.logInfo(message).pipe(Effect.annotateLogs({ ...annotations, v: level }))
  )

/** The line format alone, without where it goes: Logging.layer sends it to stderr, tests capture it. */
const lineFormat = (json: boolean): Logger.Logger<unknown, string> => (json ? Logger.formatJson : Logger.formatLogFmt)

export const Logging = {
  /** Replaces Effect's default loggers: one line per entry on stderr, spans still get their log events. */
  layer: (config: Pick<DriverConfigShape, "logFormatJson" | "verbosity">): Layer.Layer<never> =>
    Layer.mergeAll(
      Logger.layer([Logger.withConsoleError(lineFormat(config.logFormatJson)), Logger.tracerLogger]),
      Layer.succeed(Verbosity, config.verbosity)
    )
} as const
