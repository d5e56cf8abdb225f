// PodStatuses: the SecretProviderClassPodStatus a successful publish leaves (docs/upstream.md#pod-status-writes),
// in the pod's namespace, owned by the pod, labelled with the node; an existing one is updated in place, keeping
// labels others set, with optimistic-concurrency retries.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import {
  group,
  nodeNameLabel,
  podStatusName,
  type PodStatusObject,
  type SecretProviderClassPodStatus
} from "../domain/SecretProviderClass.js"
import { KubeApi } from "./KubeApi.js"
import { isAlreadyExists, isConflict, isNotFound, type KubernetesError } from "./KubernetesError.js"
import { asRecord, type Json } from "./KubeResponses.js"

export interface PodStatusInput {
  readonly podName: string
  readonly podNamespace: string
  readonly podUid: string
  readonly spcName: string
  readonly nodeId: string
  readonly targetPath: string
  readonly objects: ReadonlyArray<PodStatusObject>
  /** A republish of a mounted volume: the status most likely exists, so it is read before anything is written. */
  readonly refresh?: boolean
}

export interface PodStatusesShape {
  /**
   * Succeeds with the objects the status held before this write (what a rotation compares against), or undefined
   * when there was no status to update.
   */
  readonly upsert: (input: PodStatusInput) => Effect.Effect<PreviousObjects, KubernetesError>
}

export type PreviousObjects = ReadonlyArray<PodStatusObject> | undefined

const objectsOf = (status: unknown): ReadonlyArray<PodStatusObject> => {
  const objects = asRecord(asRecord(status)["status"])["objects"]
  return Array.isArray(objects)
    ? objects.map((o) => ({ id: String(asRecord(o)["id"] ?? ""), version: String(asRecord(o)["version"] ?? "") }))
    : []
}

export const podStatusesPath = (namespace: string, name?: string) =>
  `/apis/${group}/v1/namespaces/${encodeURIComponent(namespace)}/secretproviderclasspodstatuses` +
  (name === undefined ? "" : `/${encodeURIComponent(name)}`)

/**
 * Status objects one per id, sorted by id, as upstream writes them: its objects come from a map keyed by id, so the
 * last version a provider gave for an id wins; then byte order, like Go's string comparison for ASCII ids.
 */
const sortedObjects = (objects: ReadonlyArray<PodStatusObject>) => {
  const byId = new Map<string, string>()
  for (const { id, version } of objects) byId.set(id, version)
  return [...byId].map(([id, version]) => ({ id, version })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

const ownedBy = (input: PodStatusInput) => [{ apiVersion: "v1", kind: "Pod", name: input.podName, uid: input.podUid }]

const desiredPodStatus = (input: PodStatusInput): SecretProviderClassPodStatus => ({
  apiVersion: `${group}/v1`,
  kind: "SecretProviderClassPodStatus",
  metadata: {
    name: podStatusName(input.podName, input.podNamespace, input.spcName),
    namespace: input.podNamespace,
    labels: { [nodeNameLabel]: input.nodeId },
    ownerReferences: ownedBy(input)
  },
  status: {
    podName: input.podName,
    secretProviderClassName: input.spcName,
    mounted: true,
    targetPath: input.targetPath,
    objects: sortedObjects(input.objects)
  }
})

/**
 * The existing object with our node label, owner and status on top. Everything else (foreign labels, annotations,
 * finalizers, resourceVersion for the optimistic lock) is kept as read.
 */
const mergeInto = (existing: unknown, desired: SecretProviderClassPodStatus): Json => {
  const current = asRecord(existing)
  const metadata = asRecord(current["metadata"])
  return {
    ...current,
    metadata: {
      ...metadata,
      labels: { ...asRecord(metadata["labels"]), ...desired.metadata.labels },
      ownerReferences: desired.metadata.ownerReferences
    },
    status: desired.status
  }
}

// Another writer (a second publish of the same pod, a user) changed it between our get and update: re-read.
const conflictRetry = {
  schedule: Schedule.exponential("10 millis").pipe(Schedule.jittered),
  times: 4,
  while: isConflict
}

// The API server returns objects with its own key order (Go sorts map keys): compare key-order-free.
const canonical = (u: unknown): unknown =>
  Array.isArray(u)
    ? u.map(canonical)
    : typeof u === "object" && u !== null
      ? Object.fromEntries(
          Object.keys(u)
            .sort()
            .map((k) => [k, canonical((u as Record<string, unknown>)[k])])
        )
      : u
const sameJson = (a: unknown, b: unknown) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b))

const makeLive = Effect.gen(function* () {
  const api = yield* KubeApi
  const upsert = Effect.fn("PodStatuses.upsert")(function* (input: PodStatusInput) {
    const desired = desiredPodStatus(input)
    const { name, namespace } = desired.metadata
    const ref = `secretproviderclasspodstatus ${namespace}/${name}`
    yield* Effect.annotateCurrentSpan({ podStatus: `${namespace}/${name}` })
    const create = api
      .request({ method: "POST", path: podStatusesPath(namespace), body: desired, description: `create ${ref}` })
      .pipe(
        Effect.as(true),
        Effect.catchIf(isAlreadyExists, () => Effect.succeed(false))
      )
    // A refresh finds its status in place: read first, and write only what changed (usually nothing).
    const update = Effect.gen(function* () {
      const existing = yield* api.request({
        method: "GET",
        path: podStatusesPath(namespace, name),
        description: `get ${ref}`
      })
      const body = mergeInto(existing, desired)
      if (!sameJson(body, existing)) {
        const path = podStatusesPath(namespace, name)
        yield* api.request({ method: "PUT", path, body, description: `update ${ref}` })
      }
      return objectsOf(existing)
    }).pipe(Effect.retry(conflictRetry))
    if (input.refresh === true) {
      const previous = yield* update.pipe(Effect.catchIf(isNotFound, () => Effect.succeed(undefined)))
      if (previous !== undefined) return previous
    }
    return (yield* create) ? undefined : yield* update
  })
  return PodStatuses.of({ upsert })
})

/** Test handle of the in-memory layer. */
export class PodStatusesInMemory extends Context.Service<
  PodStatusesInMemory,
  {
    readonly list: Effect.Effect<ReadonlyArray<SecretProviderClassPodStatus>>
    readonly put: (status: SecretProviderClassPodStatus) => Effect.Effect<void>
    /** Every upsert fails with this error until it is cleared with undefined. */
    readonly failWith: (error: KubernetesError | undefined) => Effect.Effect<void>
  }
>()("PodStatusesInMemory") {}

const key = (s: SecretProviderClassPodStatus) => `${s.metadata.namespace}/${s.metadata.name}`

const makeInMemory = Effect.gen(function* () {
  const store = yield* Ref.make(new Map<string, SecretProviderClassPodStatus>())
  const failure = yield* Ref.make<KubernetesError | undefined>(undefined)
  const put = (status: SecretProviderClassPodStatus) => Ref.update(store, (m) => new Map(m).set(key(status), status))
  const upsert = Effect.fn("PodStatuses.upsert")(function* (input: PodStatusInput) {
    const error = yield* Ref.get(failure)
    if (error !== undefined) return yield* error
    const desired = desiredPodStatus(input)
    const existing = (yield* Ref.get(store)).get(key(desired))
    yield* put(existing === undefined ? desired : (mergeInto(existing, desired) as SecretProviderClassPodStatus))
    return existing === undefined ? undefined : objectsOf(existing)
  })
  return Context.make(PodStatuses, PodStatuses.of({ upsert })).pipe(
    Context.add(
      PodStatusesInMemory,
      PodStatusesInMemory.of({
        list: Ref.get(store).pipe(Effect.map((m) => [...m.values()])),
        put,
        failWith: (error) => Ref.set(failure, error)
      })
    )
  )
})

export class PodStatuses extends Context.Service<PodStatuses, PodStatusesShape>()("PodStatuses") {
  static readonly layer: Layer.Layer<PodStatuses, never, KubeApi> = Layer.effect(PodStatuses, makeLive)
  static readonly layerInMemory: Layer.Layer<PodStatuses | PodStatusesInMemory> = Layer.effectContext(makeInMemory)
}
