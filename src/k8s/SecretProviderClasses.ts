// SecretProviderClasses: reading the SPC a volume names, always from the pod's namespace
// (docs/upstream.md#publish-spc-lookup; an SPC in another namespace is simply not found). Live on KubeApi behind a
// watch cache; in memory for unit tests.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { group, type SecretProviderClass } from "../domain/SecretProviderClass.js"
import { classKey, makeClassCache } from "./ClassCache.js"
import { decodeKept } from "./ClassFields.js"
import { KubeApi } from "./KubeApi.js"
import { isNotFound, KubernetesError } from "./KubernetesError.js"

/** Told `<namespace>/<name>` of each class deleted from the cluster. */
export type ClassDeleted = (key: string) => Effect.Effect<void>

export interface SecretProviderClassesShape {
  readonly get: (namespace: string, name: string) => Effect.Effect<SecretProviderClass, KubernetesError>
  /**
   * Registers a listener of deletions (what keeps copies of a class, such as the node cache, drops them). Where
   * nothing announces deletions (standalone classes read from files), listeners are never called.
   */
  readonly onDeleted: (listener: ClassDeleted) => Effect.Effect<void>
}

/** A set of deletion listeners: `add` registers one, `announce` tells each. */
const makeListeners = () => {
  const listeners = new Set<ClassDeleted>()
  return {
    add: (listener: ClassDeleted) => Effect.sync(() => void listeners.add(listener)),
    announce: (key: string) => Effect.forEach([...listeners], (listener) => listener(key), { discard: true })
  }
}

const spcPath = (namespace: string, name: string) =>
  `/apis/${group}/v1/namespaces/${encodeURIComponent(namespace)}/secretproviderclasses/${encodeURIComponent(name)}`

// Upstream's wording, kept because users grep for it (troubleshooting docs quote it).
const description = (namespace: string, name: string) => `get secretproviderclass ${namespace}/${name}`

/** Upstream's not-found message; `where` adds where it looked, when that is not the API server. */
export const classNotFound = (namespace: string, name: string, where?: string) =>
  new KubernetesError({
    reason: "SecretProviderClassNotFound",
    message:
      `failed to ${description(namespace, name)}, error: secretproviderclasses.${group} "${name}" not found` +
      (where === undefined ? "" : ` (${where})`),
    status: 404,
    statusReason: "NotFound"
  })

const asNotFound = (e: KubernetesError) =>
  new KubernetesError({
    reason: "SecretProviderClassNotFound",
    message: e.message,
    status: 404,
    statusReason: "NotFound"
  })

const decodeFrom = (namespace: string, name: string) => (body: unknown) =>
  decodeKept(body).pipe(
    Effect.mapError(
      (cause) =>
        new KubernetesError({
          reason: "KubernetesApiError",
          message:
            `failed to ${description(namespace, name)}, error: ` +
            "the object does not decode as a SecretProviderClass",
          cause
        })
    )
  )

const makeLive = Effect.gen(function* () {
  const api = yield* KubeApi
  const listeners = makeListeners()
  const cache = yield* makeClassCache(api, listeners.announce)
  const fetch = (namespace: string, name: string) =>
    api.request({ method: "GET", path: spcPath(namespace, name), description: description(namespace, name) }).pipe(
      Effect.mapError((e) => (isNotFound(e) ? asNotFound(e) : e)),
      Effect.flatMap(decodeFrom(namespace, name))
    )
  // A hit comes from the watch; a miss (not synced yet, an SPC created a moment ago, one the cache's bounds keep
  // out) asks the API server. Both return the same kept fields (ClassFields.ts).
  const get = Effect.fn("SecretProviderClasses.get")(function* (namespace: string, name: string) {
    const cached = yield* cache.lookup(namespace, name)
    return cached ?? (yield* fetch(namespace, name))
  })
  return SecretProviderClasses.of({ get, onDeleted: listeners.add })
})

/** Test handle of the in-memory layer: what the "cluster" holds. */
export class SecretProviderClassesInMemory extends Context.Service<
  SecretProviderClassesInMemory,
  {
    readonly put: (spc: SecretProviderClass) => Effect.Effect<void>
    readonly remove: (namespace: string, name: string) => Effect.Effect<void>
  }
>()("SecretProviderClassesInMemory") {}

const key = classKey

const makeInMemory = (initial: ReadonlyArray<SecretProviderClass>) =>
  Effect.gen(function* () {
    const store = yield* Ref.make(new Map(initial.map((spc) => [key(spc.metadata.namespace, spc.metadata.name), spc])))
    const listeners = makeListeners()
    const get = Effect.fn("SecretProviderClasses.get")(function* (namespace: string, name: string) {
      const spc = (yield* Ref.get(store)).get(key(namespace, name))
      return spc ?? (yield* classNotFound(namespace, name))
    })
    const put = (spc: SecretProviderClass) =>
      Ref.update(store, (m) => new Map(m).set(key(spc.metadata.namespace, spc.metadata.name), spc))
    const remove = (namespace: string, name: string) =>
      Ref.update(store, (m) => {
        const next = new Map(m)
        next.delete(key(namespace, name))
        return next
      }).pipe(Effect.andThen(listeners.announce(key(namespace, name))))
    return Context.make(SecretProviderClasses, SecretProviderClasses.of({ get, onDeleted: listeners.add })).pipe(
      Context.add(SecretProviderClassesInMemory, SecretProviderClassesInMemory.of({ put, remove }))
    )
  })

export class SecretProviderClasses extends Context.Service<SecretProviderClasses, SecretProviderClassesShape>()(
  "SecretProviderClasses"
) {
  static readonly layer: Layer.Layer<SecretProviderClasses, never, KubeApi> = Layer.effect(
    SecretProviderClasses,
    makeLive
  )
  static readonly layerInMemory = (
    initial: ReadonlyArray<SecretProviderClass> = []
  ): Layer.Layer<SecretProviderClasses | SecretProviderClassesInMemory> => Layer.effectContext(makeInMemory(initial))
}
