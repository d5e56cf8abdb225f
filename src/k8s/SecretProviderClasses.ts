// SecretProviderClasses: reading the SPC a volume names, always from the pod's namespace (upstream §2.5 step 10;
// an SPC in another namespace is simply not found). Live on KubeApi behind a watch cache; in memory for unit tests.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import {
  decodeSecretProviderClass,
  group,
  type SecretProviderClass
} from "../domain/SecretProviderClass.js"
import { KubeApi } from "./KubeApi.js"
import { isNotFound, KubernetesError } from "./KubernetesError.js"
import { listWatch } from "./ListWatch.js"

export interface SecretProviderClassesShape {
  readonly get: (namespace: string, name: string) => Effect.Effect<SecretProviderClass, KubernetesError>
}

export const spcPath = (namespace: string, name: string) =>
  `/apis/${group}/v1/namespaces/${encodeURIComponent(namespace)}/secretproviderclasses/${encodeURIComponent(name)}`

// Upstream's wording, kept because users grep for it (troubleshooting docs quote it).
const description = (namespace: string, name: string) => `get secretproviderclass ${namespace}/${name}`

/** Upstream's not-found message; `where` adds where it looked, when that is not the API server. */
export const classNotFound = (namespace: string, name: string, where?: string) =>
  new KubernetesError({
    reason: "SecretProviderClassNotFound",
    message: `failed to ${description(namespace, name)}, error: secretproviderclasses.${group} "${name}" not found` +
      (where === undefined ? "" : ` (${where})`),
    status: 404,
    statusReason: "NotFound"
  })

const asNotFound = (e: KubernetesError) =>
  new KubernetesError({ reason: "SecretProviderClassNotFound", message: e.message, status: 404, statusReason: "NotFound" })

const decodeFrom = (namespace: string, name: string) => (body: unknown) =>
  decodeSecretProviderClass(body).pipe(
    Effect.mapError((cause) =>
      new KubernetesError({
        reason: "KubernetesApiError",
        message: `failed to ${description(namespace, name)}, error: the object does not decode as a SecretProviderClass`,
        cause
      })
    )
  )

const makeLive = Effect.gen(function*() {
  const api = yield* KubeApi
  const cache = yield* makeClassCache(api)
  const fetch = (namespace: string, name: string) =>
    api.request({ method: "GET", path: spcPath(namespace, name), description: description(namespace, name) }).pipe(
      Effect.mapError((e) => isNotFound(e) ? asNotFound(e) : e),
      Effect.flatMap(decodeFrom(namespace, name))
    )
  // A hit comes from the watch; a miss (not synced yet, or an SPC created a moment ago) asks the API server.
  const get = Effect.fn("SecretProviderClasses.get")(function*(namespace: string, name: string) {
    const cached = yield* cache.lookup(namespace, name)
    return cached ?? (yield* fetch(namespace, name))
  })
  return SecretProviderClasses.of({ get })
})

/**
 * Upstream reads SPCs from an informer so a publish costs no API round trip for them. This is that cache, kept
 * by one cluster-wide list/watch started on the first lookup (a driver without a cluster never starts it).
 */
const makeClassCache = (api: KubeApi["Service"]) =>
  Effect.gen(function*() {
    const scope = yield* Scope.Scope
    const classes = new Map<string, SecretProviderClass>()
    let state: "idle" | "listing" | "synced" = "idle"
    // An object that no longer decodes is dropped from the cache, so a lookup asks the API server and reports it
    // rather than using the last good version.
    const put = (o: unknown) =>
      decodeSecretProviderClass(o).pipe(
        Effect.map((spc) => void classes.set(key(spc.metadata.namespace, spc.metadata.name), spc)),
        Effect.catch(() => Effect.sync(() => void classes.delete(keyOfObject(o))))
      )
    const follow = listWatch(api, {
      path: `/apis/${group}/v1/secretproviderclasses`,
      what: "secretproviderclasses (cache)",
      onList: (items) =>
        Effect.sync(() => classes.clear()).pipe(
          Effect.andThen(Effect.forEach(items, put, { discard: true })),
          Effect.andThen(Effect.sync(() => void (state = "synced")))
        ),
      onEvent: (event) =>
        event.type === "DELETED" ? Effect.sync(() => void classes.delete(keyOfObject(event.object))) : put(event.object)
    })
    const start = Effect.suspend(() => {
      if (state !== "idle") return Effect.void
      state = "listing"
      return Effect.asVoid(Effect.forkIn(follow, scope))
    })
    const lookup = (namespace: string, name: string) =>
      Effect.andThen(start, Effect.sync(() => (state === "synced" ? classes.get(key(namespace, name)) : undefined)))
    return { lookup }
  })

/** Test handle of the in-memory layer: what the "cluster" holds. */
export class SecretProviderClassesInMemory extends Context.Service<SecretProviderClassesInMemory, {
  readonly put: (spc: SecretProviderClass) => Effect.Effect<void>
  readonly remove: (namespace: string, name: string) => Effect.Effect<void>
}>()("SecretProviderClassesInMemory") {}

const key = (namespace: string, name: string) => `${namespace}/${name}`

const keyOfObject = (o: unknown) => {
  const meta = (o as { metadata?: { namespace?: unknown; name?: unknown } } | undefined)?.metadata
  return key(String(meta?.namespace ?? ""), String(meta?.name ?? ""))
}

const makeInMemory = (initial: ReadonlyArray<SecretProviderClass>) =>
  Effect.gen(function*() {
    const store = yield* Ref.make(new Map(initial.map((spc) => [key(spc.metadata.namespace, spc.metadata.name), spc])))
    const get = Effect.fn("SecretProviderClasses.get")(function*(namespace: string, name: string) {
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
      })
    return Context.make(SecretProviderClasses, SecretProviderClasses.of({ get })).pipe(
      Context.add(SecretProviderClassesInMemory, SecretProviderClassesInMemory.of({ put, remove }))
    )
  })

export class SecretProviderClasses extends Context.Service<SecretProviderClasses, SecretProviderClassesShape>()(
  "SecretProviderClasses"
) {
  static readonly layer: Layer.Layer<SecretProviderClasses, never, KubeApi> = Layer.effect(SecretProviderClasses, makeLive)
  static readonly layerInMemory = (
    initial: ReadonlyArray<SecretProviderClass> = []
  ): Layer.Layer<SecretProviderClasses | SecretProviderClassesInMemory> => Layer.effectContext(makeInMemory(initial))
}
