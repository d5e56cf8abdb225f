// --enable-pprof: a read-only profiling server on 127.0.0.1:--pprof-port with Go pprof's CPU and heap endpoints in
// V8's formats, taken in-process through node:inspector's Session (which opens no port): GET /debug/pprof/profile
// ?seconds=N is a .cpuprofile, GET /debug/pprof/heap a .heapsnapshot. Only Profiler methods chosen here are posted.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Semaphore from "effect/Semaphore"
import { Session } from "node:inspector/promises"
import {
  DEFAULT_LIMITS,
  type HttpLimits,
  type HttpRequest,
  notFound,
  type Reply,
  serveHttp,
  textReply
} from "../platform/HardenedHttpServer.js"
import type { DriverConfigShape } from "./DriverConfig.js"

/** Loopback only: reach it with `kubectl port-forward`. */
const PPROF_HOST = "127.0.0.1"
export const PROFILE_PATH = "/debug/pprof/profile"
export const HEAP_PATH = "/debug/pprof/heap"
/** Go's default profile length. */
const DEFAULT_SECONDS = 30
const MAX_SECONDS = 60

/** One operator at a time: few connections, few handlers. */
const PPROF_LIMITS: HttpLimits = { ...DEFAULT_LIMITS, maxConnections: 16, maxInFlight: 8 }

export class PprofError extends Schema.TaggedError<PprofError>()("PprofError", {
  message: Schema.String,
  cause: Schema.Defect()
}) {}

/** `seconds` absent or empty: Go's 30; otherwise a whole number from 1 to MAX_SECONDS, or the reason it is not. */
export const profileSeconds = (raw: string | null): { readonly seconds: number } | { readonly invalid: string } => {
  if (raw === null || raw === "") return { seconds: DEFAULT_SECONDS }
  const seconds = /^\d{1,3}$/.test(raw) ? Number(raw) : Number.NaN
  return seconds >= 1 && seconds <= MAX_SECONDS
    ? { seconds }
    : { invalid: `seconds must be a whole number from 1 to ${MAX_SECONDS}` }
}

const attachment = (file: string, body: string | ReadonlyArray<string>): Reply => ({
  status: 200,
  contentType: "application/json",
  body,
  headers: { "content-disposition": `attachment; filename="${file}"` }
})

const inspectorCall = <A>(what: string, call: () => Promise<A>) =>
  Effect.tryPromise({ try: call, catch: (cause) => new PprofError({ message: `${what} failed`, cause }) })

/** An in-process inspector session for one profile; disconnecting also stops a profiler left running. */
const withSession = <A>(use: (session: Session) => Effect.Effect<A, PprofError>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const session = new Session()
      session.connect()
      return session
    }),
    use,
    (session) => Effect.sync(() => session.disconnect())
  )

const cpuProfile = (seconds: number) =>
  withSession((session) =>
    Effect.gen(function* () {
      yield* inspectorCall("Profiler.enable", () => session.post("Profiler.enable"))
      yield* inspectorCall("Profiler.start", () => session.post("Profiler.start"))
      yield* Effect.sleep(Duration.seconds(seconds))
      const { profile } = yield* inspectorCall("Profiler.stop", () => session.post("Profiler.stop"))
      return attachment("cpu.cpuprofile", JSON.stringify(profile))
    })
  )

/** The snapshot arrives in chunks; they are sent as they are, never joined into one string. */
const heapSnapshot = withSession((session) =>
  Effect.gen(function* () {
    const chunks: Array<string> = []
    session.on("HeapProfiler.addHeapSnapshotChunk", (message) => void chunks.push(message.params.chunk))
    yield* inspectorCall("HeapProfiler.takeHeapSnapshot", () =>
      session.post("HeapProfiler.takeHeapSnapshot", { reportProgress: false })
    )
    return attachment("heap.heapsnapshot", chunks)
  })
)

const route = (oneAtATime: Semaphore.Semaphore) => {
  const exclusive = (profile: Effect.Effect<Reply, PprofError>) =>
    profile.pipe(
      oneAtATime.withPermitsIfAvailable(1),
      Effect.map(Option.getOrElse(() => textReply(409, "another profile is being taken; try again when it is done\n"))),
      Effect.catchTag("PprofError", (error) =>
        Effect.logWarning("profiling failed").pipe(
          Effect.annotateLogs({ error: String(error.cause) }),
          Effect.as(textReply(500, `${error.message}\n`))
        )
      )
    )
  return ({ method, path, query }: HttpRequest): Effect.Effect<Reply> => {
    if (method !== "GET") return Effect.succeed(notFound)
    switch (path) {
      case PROFILE_PATH: {
        const parsed = profileSeconds(query.get("seconds"))
        return "invalid" in parsed
          ? Effect.succeed(textReply(400, `${parsed.invalid}\n`))
          : exclusive(cpuProfile(parsed.seconds))
      }
      case HEAP_PATH:
        return exclusive(heapSnapshot)
      default:
        return Effect.succeed(notFound)
    }
  }
}

const serve = (config: Pick<DriverConfigShape, "pprofPort">) =>
  Effect.gen(function* () {
    const handle = route(yield* Semaphore.make(1))
    const port = yield* serveHttp({ host: PPROF_HOST, port: config.pprofPort, handle, limits: PPROF_LIMITS }).pipe(
      Effect.mapError(
        ({ address, cause }) => new PprofError({ message: `cannot listen on ${address} for --enable-pprof`, cause })
      )
    )
    yield* Effect.logInfo("pprof server listening").pipe(Effect.annotateLogs({ address: `${PPROF_HOST}:${port}` }))
  })

export const Pprof = {
  /** Serves while the layer lives, closed on shutdown; nothing at all without --enable-pprof. */
  layer: (config: Pick<DriverConfigShape, "enablePprof" | "pprofPort">): Layer.Layer<never, PprofError> =>
    config.enablePprof ? Layer.effectDiscard(serve(config)) : Layer.empty
} as const
