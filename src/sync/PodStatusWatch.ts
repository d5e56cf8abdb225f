// Following this node's SecretProviderClassPodStatus objects (k8s/ListWatch.ts does the list/watch/resume/re-list).
// Only keys leave this module: the reconciler reads each object itself, so the driver caches no statuses.
import * as Effect from "effect/Effect"
import { group, nodeNameLabel } from "../domain/SecretProviderClass.js"
import type { KubeApiShape } from "../k8s/KubeApi.js"
import { listWatch } from "../k8s/ListWatch.js"

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

const keyOf = (o: unknown): string | undefined => {
  const { name, namespace } = (o as { metadata?: Meta } | undefined)?.metadata ?? {}
  return typeof name === "string" && typeof namespace === "string" ? `${namespace}/${name}` : undefined
}

const selector = (nodeId: string) => `${nodeNameLabel}=${nodeId}`

/** Keys of this node's statuses (the periodic resync). */
export const listPodStatusKeys = (api: KubeApiShape, nodeId: string) =>
  api
    .request({
      method: "GET",
      path: podStatusesCollection,
      query: { labelSelector: selector(nodeId) },
      description: `list secretproviderclasspodstatuses of node ${nodeId}`
    })
    .pipe(
      Effect.map((body) => {
        const items = (body as { items?: ReadonlyArray<unknown> } | undefined)?.items ?? []
        return { keys: items.map(keyOf).filter((k): k is string => k !== undefined) }
      })
    )

/** Runs until interrupted. */
export const watchPodStatuses = (api: KubeApiShape, options: PodStatusWatchOptions): Effect.Effect<never> => {
  const changed = (o: unknown, deleted: boolean) => {
    const key = keyOf(o)
    return key === undefined ? Effect.void : options.onChange(key, deleted)
  }
  return listWatch(api, {
    path: podStatusesCollection,
    query: { labelSelector: selector(options.nodeId) },
    what: `secret sync: secretproviderclasspodstatuses of node ${options.nodeId}`,
    onPage: (items) => Effect.forEach(items, (o) => changed(o, false), { discard: true }),
    onEvent: (event) => changed(event.object, event.type === "DELETED")
  })
}
