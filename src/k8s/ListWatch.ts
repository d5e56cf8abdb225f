// Following a collection like an informer, without client-go: list, then watch from the list's resourceVersion;
// a dropped connection resumes from the last version seen, a 410 Expired lists again, so no change is lost. The
// caller decides what to keep: the secret sync keeps only keys, the SPC cache keeps the objects.
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { KubeApiShape, WatchEvent } from "./KubeApi.js"
import type { KubernetesError } from "./KubernetesError.js"

export interface ListWatchOptions {
  readonly path: string
  readonly query?: Readonly<Record<string, string>>
  /** Names the collection in log lines and errors, e.g. "secretproviderclasses". */
  readonly what: string
  /** The full list, each time the collection is (re)listed. */
  readonly onList: (items: ReadonlyArray<unknown>) => Effect.Effect<void>
  readonly onEvent: (event: WatchEvent) => Effect.Effect<void>
}

interface Meta {
  readonly resourceVersion?: unknown
}

const resourceVersionOf = (o: unknown): string | undefined => {
  const rv = (o as { metadata?: Meta } | undefined)?.metadata?.resourceVersion
  return typeof rv === "string" && rv !== "" ? rv : undefined
}

/** 410 Gone / Expired: the version we resume from is no longer in the server's history. */
export const isExpired = (e: KubernetesError): boolean =>
  e.status === 410 || e.statusReason === "Expired" || e.statusReason === "Gone"

// List failures (API server down, RBAC not yet bound) and broken watches: back off, never give up.
const listBackoff = Schedule.exponential("500 millis").pipe(Schedule.jittered, (s) => Schedule.min([s, Schedule.spaced("30 seconds")]))
const reconnectBackoff = Schedule.exponential("200 millis").pipe(Schedule.jittered, (s) => Schedule.min([s, Schedule.spaced("30 seconds")]))
// A watch the server ended cleanly (its timeout, a proxy) is reopened at once, but never in a hot loop.
const reopenAfterEnd = Schedule.spaced("50 millis")

const list = (api: KubeApiShape, options: ListWatchOptions) =>
  api.request({ method: "GET", path: options.path, query: options.query ?? {}, description: `list ${options.what}` }).pipe(
    Effect.map((body) => {
      const listed = body as { metadata?: Meta; items?: ReadonlyArray<unknown> } | undefined
      return { items: listed?.items ?? [], resourceVersion: resourceVersionOf(listed) ?? "" }
    })
  )

/** Runs until interrupted. */
export const listWatch = (api: KubeApiShape, options: ListWatchOptions): Effect.Effect<never> => {
  const session = Effect.gen(function*() {
    const listed = yield* list(api, options).pipe(
      Effect.tapError((e) => Effect.logWarning(`${options.what}: ${e.message}`)),
      Effect.retry(listBackoff)
    )
    yield* options.onList(listed.items)
    let resourceVersion = listed.resourceVersion
    const watchOnce = Effect.gen(function*() {
      // client-go's 5-10 minute spread: a silently dead connection cannot stall the watch for longer.
      const timeoutSeconds = yield* Random.nextIntBetween(300, 600)
      yield* api.watch({
        path: options.path,
        query: { ...options.query, resourceVersion, allowWatchBookmarks: "true", timeoutSeconds: String(timeoutSeconds) },
        description: `watch ${options.what}`
      }).pipe(Stream.runForEach((event) => {
        resourceVersion = resourceVersionOf(event.object) ?? resourceVersion
        return event.type === "BOOKMARK" ? Effect.void : options.onEvent(event)
      }))
    })
    return yield* watchOnce.pipe(
      Effect.tapError((e) => isExpired(e) ? Effect.void : Effect.logWarning(`${options.what}: ${e.message}; reconnecting`)),
      Effect.retry({ schedule: reconnectBackoff, while: (e) => !isExpired(e) }),
      Effect.repeat(reopenAfterEnd)
    )
  })
  return session.pipe(
    // Only an expired resourceVersion ends a session (everything else is retried inside it): list again.
    Effect.catch((e) => Effect.logInfo(`${options.what}: ${e.message}; listing again`)),
    Effect.forever
  )
}
