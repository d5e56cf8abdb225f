// klog-compatible logging: `-v` verbosity gates logV(n) lines like klog.V(n).Info, and --log-format-json picks
// the Kubernetes JSON logger's objects over klog's text lines (src/config/KlogFormat.ts). Both go to stderr.
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import type { DriverConfigShape } from "./DriverConfig.js"
import { formatJson, formatText, type KlogEntry, type Severity } from "./KlogFormat.js"

export { KObj, kObj } from "./KlogFormat.js"

/** The `-v` level of this process; 0 unless Logging.layer (or a test) provides another. */
export const Verbosity = Context.Reference<number>("Verbosity", { defaultValue: () => 0 })

/** The annotation that names a line's location (klog's `file.go:123]`); without it, the current span's name. */
export const LOCATION_KEY = "logger"
/** The annotation that carries a logV line's level (klog's JSON `v`); not repeated among the keys. */
const V_KEY = "v"

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

// Effect.logDebug is klog's V(4) ("debug"), Effect.logTrace its V(6).
const DEBUG_V = 4
const TRACE_V = 6

const severityOf = (level: string): Severity =>
  level === "Fatal" ? "F" : level === "Error" ? "E" : level === "Warn" ? "W" : "I"

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Error)

const isPrettyCause = (cause: Cause.Cause<unknown>): boolean => cause.reasons.length > 0

/**
 * One Effect log entry as klog's parts: the first string message is `msg`; record messages (`logInfo("m", {k})`)
 * and annotations become the keys, in that order; a cause, an Error or a key `error` becomes `err`.
 */
const toEntry = (options: Logger.Options<unknown>, program: string): KlogEntry => {
  const { fiber } = options
  const parts = Array.isArray(options.message) ? (options.message as ReadonlyArray<unknown>) : [options.message]
  const values: Array<readonly [string, unknown]> = []
  let message: string | undefined
  let err: string | undefined = isPrettyCause(options.cause) ? Cause.pretty(options.cause) : undefined
  for (const part of parts) {
    if (message === undefined && typeof part === "string") message = part
    else if (isRecord(part)) for (const [key, value] of Object.entries(part)) values.push([key, value])
    else if (part instanceof Error) err ??= part.message
    else values.push(["detail", part])
  }
  const annotations = fiber.getRef(References.CurrentLogAnnotations)
  let v = options.logLevel === "Debug" ? DEBUG_V : options.logLevel === "Trace" ? TRACE_V : 0
  let location: string | undefined
  for (const [key, value] of Object.entries(annotations)) {
    if (key === V_KEY && typeof value === "number") v = value
    else if (key === LOCATION_KEY && typeof value === "string") location = value
    else values.push([key, value])
  }
  const errorIndex = values.findIndex(([key]) => key === "error" || key === "err")
  if (err === undefined && errorIndex >= 0) {
    const [, value] = values.splice(errorIndex, 1)[0] ?? []
    err = value instanceof Error ? value.message : String(value)
  }
  if (location === undefined) {
    const span = Context.getOption(fiber.context, Tracer.ParentSpan)
    location = span._tag === "Some" && span.value._tag === "Span" ? span.value.name : program
  }
  return {
    severity: severityOf(options.logLevel),
    micros: fiber.getRef(Clock.Clock).currentTimeNanosUnsafe() / 1000n,
    pid: process.pid,
    location,
    message: message ?? "",
    v,
    err,
    values
  }
}

/** The line format alone, without where it goes: Logging.layer sends it to stderr, tests capture it. */
export const klogLogger = (
  config: Pick<DriverConfigShape, "logFormatJson" | "verbosity">,
  program: string
): Logger.Logger<unknown, string | undefined> => {
  const format = config.logFormatJson ? formatJson : formatText
  return Logger.make((options) => {
    const level = options.logLevel
    if (level === "Debug" && config.verbosity < DEBUG_V) return undefined
    if (level === "Trace" && config.verbosity < TRACE_V) return undefined
    return format(toEntry(options, program))
  })
}

/** Writes each line to stderr through the Console service (tests capture it there); gated entries write none. */
const toStderr = (logger: Logger.Logger<unknown, string | undefined>): Logger.Logger<unknown, void> =>
  Logger.make((options) => {
    const line = logger.log(options)
    if (line !== undefined) options.fiber.getRef(Console.Console).error(line)
  })

export const Logging = {
  /**
   * Replaces Effect's default loggers: one klog line per entry on stderr, spans still get their log events.
   * `program` is the location of lines logged outside any span (e.g. "driver").
   */
  layer: (config: Pick<DriverConfigShape, "logFormatJson" | "verbosity">, program = "main"): Layer.Layer<never> =>
    Layer.mergeAll(
      Logger.layer([toStderr(klogLogger(config, program)), Logger.tracerLogger]),
      Layer.succeed(Verbosity, config.verbosity),
      Layer.succeed(
        References.MinimumLogLevel,
        config.verbosity >= TRACE_V ? "All" : config.verbosity >= DEBUG_V ? "Debug" : "Info"
      )
    )
} as const
