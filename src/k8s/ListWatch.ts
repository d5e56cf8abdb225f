// Following a collection like an informer, without client-go: list in pages (`limit`/`continue`), then watch from
// the list's resourceVersion; a dropped connection resumes from the last version seen, a 410 Expired (on the watch,
// or on a `continue` page) lists again, so no change is lost. The caller decides what to keep: the secret sync
// keeps only keys, the SPC cache a bounded projection of the objects.
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
  /** Items per list request (client-go's pager default, 500, when absent): one page is all a list holds at once. */
  readonly pageSize?: number
  /** A (re)list begins: the pages that follow, until `onListed`, are the whole collection. */
  readonly onListStart?: Effect.Effect<void>
  /** One page of the list, in the server's order. */
  readonly onPage: (items: ReadonlyArray<unknown>) => Effect.Effect<void>
  /** Every page of this list was delivered; the watch starts next. */
  readonly onListed?: Effect.Effect<void>
  readonly onEvent: (event: WatchEvent) => Effect.Effect<void>
}

interface ListMeta {
  readonly resourceVersion?: unknown
  readonly continue?: unknown
}

const nonEmpty = (u: unknown): string | undefined => (typeof u === "string" && u !== "" ? u : undefined)

const resourceVersionOf = (o: unknown): string | undefined =>
  nonEmpty((o as { metadata?: ListMeta } | undefined)?.metadata?.resourceVersion)

/** 410 Gone / Expired: the version we resume from is no longer in the server's history. */
const isExpired = (e: KubernetesError): boolean =>
  e.status === 410 || e.statusReason === "Expired" || e.statusReason === "Gone"

const defaultPageSize = 500

// List failures (API server down, RBAC not yet bound) and broken watches: back off, never give up.
const capped = (base: `${number} millis`) =>
  Schedule.exponential(base).pipe(Schedule.jittered, (s) => Schedule.min([s, Schedule.spaced("30 seconds")]))
const listBackoff = capped("500 millis")
const reconnectBackoff = capped("200 millis")
// A watch the server ended cleanly (its timeout, a proxy) is reopened at once, but never in a hot loop.
const reopenAfterEnd = Schedule.spaced("50 millis")
// Nor is listing again after a 410: a server that expires every continue token must not make a hot loop.
const relistPause = "100 millis"

const listPage = (api: KubeApiShape, options: ListWatchOptions, token: string | undefined) =>
  api
    .request({
      method: "GET",
      path: options.path,
      query: {
        ...options.query,
        limit: String(options.pageSize ?? defaultPageSize),
        ...(token === undefined ? {} : { continue: token })
      },
      description: `list ${options.what}`
    })
    .pipe(
      Effect.map((body) => {
        const listed = body as { metadata?: ListMeta; items?: ReadonlyArray<unknown> } | undefined
        return {
          items: listed?.items ?? [],
          resourceVersion: resourceVersionOf(listed) ?? "",
          continue: nonEmpty(listed?.metadata?.continue)
        }
      })
    )

/**
 * Every page, each handed over before the next is asked for; resolves to the list's resourceVersion. A failed page
 * is retried with the same token; a 410 on a `continue` page (the token outlived the server's history) fails, so
 * the session lists again from the start. The first page has no token to expire: any failure there is retried.
 */
const listAll = (api: KubeApiShape, options: ListWatchOptions) =>
  Effect.gen(function* () {
    if (options.onListStart !== undefined) yield* options.onListStart
    let token: string | undefined
    let resourceVersion = ""
    do {
      const continuing = token !== undefined
      const restarts = (e: KubernetesError) => continuing && isExpired(e)
      const page = yield* listPage(api, options, token).pipe(
        Effect.tapError((e) => (restarts(e) ? Effect.void : Effect.logWarning(`${options.what}: ${e.message}`))),
        Effect.retry({ schedule: listBackoff, while: (e) => !restarts(e) })
      )
      yield* options.onPage(page.items)
      resourceVersion = page.resourceVersion
      token = page.continue
    } while (token !== undefined)
    if (options.onListed !== undefined) yield* options.onListed
    return resourceVersion
  })

/** Runs until interrupted. */
export const listWatch = (api: KubeApiShape, options: ListWatchOptions): Effect.Effect<never> => {
  const session = Effect.gen(function* () {
    let resourceVersion = yield* listAll(api, options)
    const watchOnce = Effect.gen(function* () {
      // client-go's 5-10 minute spread: a silently dead connection cannot stall the watch for longer.
      const timeoutSeconds = yield* Random.nextIntBetween(300, 600)
      yield* api
        .watch({
          path: options.path,
          query: {
            ...options.query,
            resourceVersion,
            allowWatchBookmarks: "true",
            timeoutSeconds: String(timeoutSeconds)
          },
          description: `watch ${options.what}`
        })
        .pipe(
          Stream.runForEach((event) => {
            resourceVersion = resourceVersionOf(event.object) ?? resourceVersion
            return event.type === "BOOKMARK" ? Effect.void : options.onEvent(event)
          })
        )
    })
    return yield* watchOnce.pipe(
      Effect.tapError((e) =>
        isExpired(e) ? Effect.void : Effect.logWarning(`${options.what}: ${e.message}; reconnecting`)
      ),
      Effect.retry({ schedule: reconnectBackoff, while: (e) => !isExpired(e) }),
      Effect.repeat(reopenAfterEnd)
    )
  })
  return session.pipe(
    // Only an expired resourceVersion or continue token ends a session (all else is retried inside it): list again.
    Effect.catch((e) =>
      Effect.logInfo(`${options.what}: ${e.message}; listing again`).pipe(Effect.andThen(Effect.sleep(relistPause)))
    ),
    Effect.forever
  )
}
