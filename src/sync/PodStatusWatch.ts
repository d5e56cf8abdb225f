// Following this node's SecretProviderClassPodStatus objects like an informer, without its cache: list, then
// watch from the list's resourceVersion; a dropped connection resumes from the last version seen, a 410 Expired
// re-lists, so no change is lost. Only keys leave this module: the reconciler reads each object itself.
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { group, nodeNameLabel } from "../domain/SecretProviderClass.js"
import type { KubeApiShape, WatchEvent } from "../k8s/KubeApi.js"
import type { KubernetesError } from "../k8s/KubernetesError.js"

/** All namespaces: a node's pods live in many. */
export const podStatusesCollection = `/apis/${group}/v1/secretproviderclasspodstatuses`

export interface PodStatusWatchOptions {
  readonly nodeId: string
  /** A status was added or changed (`deleted` false) or removed (`deleted` true); key is `namespace/name`. */
  readonly onChange: (key: string, deleted: boolean) => Effect.Effect<void>
}

interface Meta {
  readonly name?: unknown
  readonly namespace?: unknown
  readonly resourceVersion?: unknown
}

const metaOf = (o: unknown): Meta => (o as { metadata?: Meta } | undefined)?.metadata ?? {}
const keyOf = (o: unknown): string | undefined => {
  const { name, namespace } = metaOf(o)
  return typeof name === "string" && typeof namespace === "string" ? `${namespace}/${name}` : undefined
}

/** 410 Gone / Expired: the version we resume from is no longer in the server's history. */
export const isExpired = (e: KubernetesError): boolean =>
  e.status === 410 || e.statusReason === "Expired" || e.statusReason === "Gone"

// List failures (API server down, RBAC not yet bound) and broken watches: back off, never give up.
const listBackoff = Schedule.exponential("500 millis").pipe(Schedule.jittered, (s) => Schedule.min([s, Schedule.spaced("30 seconds")]))
const reconnectBackoff = Schedule.exponential("200 millis").pipe(Schedule.jittered, (s) => Schedule.min([s, Schedule.spaced("30 seconds")]))
// A watch the server ended cleanly (its timeout, a proxy) is reopened at once, but never in a hot loop.
const reopenAfterEnd = Schedule.spaced("50 millis")

const selector = (nodeId: string) => `${nodeNameLabel}=${nodeId}`

/** Keys of this node's statuses and the list's resourceVersion, to watch from. */
export const listPodStatusKeys = (api: KubeApiShape, nodeId: string) =>
  api.request({
    method: "GET",
    path: podStatusesCollection,
    query: { labelSelector: selector(nodeId) },
    description: `list secretproviderclasspodstatuses of node ${nodeId}`
  }).pipe(Effect.map((body) => {
    const list = body as { metadata?: Meta; items?: ReadonlyArray<unknown> } | undefined
    const keys = (list?.items ?? []).map(keyOf).filter((k): k is string => k !== undefined)
    const rv = list?.metadata?.resourceVersion
    return { keys, resourceVersion: typeof rv === "string" ? rv : "" }
  }))

/** Runs until interrupted. */
export const watchPodStatuses = (api: KubeApiShape, options: PodStatusWatchOptions): Effect.Effect<never> => {
  const { nodeId, onChange } = options
  const handle = (event: WatchEvent) => {
    const key = keyOf(event.object)
    return event.type === "BOOKMARK" || key === undefined ? Effect.void : onChange(key, event.type === "DELETED")
  }
  const session = Effect.gen(function*() {
    const listed = yield* listPodStatusKeys(api, nodeId).pipe(
      Effect.tapError((e) => Effect.logWarning(`secret sync: ${e.message}`)),
      Effect.retry(listBackoff)
    )
    yield* Effect.forEach(listed.keys, (key) => onChange(key, false), { discard: true })
    let resourceVersion = listed.resourceVersion
    const watchOnce = Effect.gen(function*() {
      // client-go's 5-10 minute spread: a silently dead connection cannot stall the watch for longer.
      const timeoutSeconds = yield* Random.nextIntBetween(300, 600)
      yield* api.watch({
        path: podStatusesCollection,
        query: { labelSelector: selector(nodeId), resourceVersion, allowWatchBookmarks: "true", timeoutSeconds: String(timeoutSeconds) },
        description: `watch secretproviderclasspodstatuses of node ${nodeId}`
      }).pipe(Stream.runForEach((event) => {
        const rv = metaOf(event.object).resourceVersion
        if (typeof rv === "string" && rv !== "") resourceVersion = rv
        return handle(event)
      }))
    })
    return yield* watchOnce.pipe(
      Effect.tapError((e) => isExpired(e) ? Effect.void : Effect.logWarning(`secret sync: ${e.message}; reconnecting`)),
      Effect.retry({ schedule: reconnectBackoff, while: (e) => !isExpired(e) }),
      Effect.repeat(reopenAfterEnd)
    )
  })
  return session.pipe(
    // Only an expired resourceVersion ends a session (everything else is retried inside it): list again.
    Effect.catch((e) => Effect.logInfo(`secret sync: ${e.message}; listing again`)),
    Effect.forever
  )
}
