// The state behind the fake API server: objects per resource, one global resourceVersion like etcd's revision,
// a bounded event history for watch resumption, and the live watch subscribers. No HTTP here.
import { randomUUID } from "node:crypto"

export interface ResourceDef {
  readonly group: string
  readonly versions: ReadonlyArray<string>
  readonly plural: string
  readonly kind: string
  /** Custom resources refuse an update without metadata.resourceVersion; core types allow it. */
  readonly custom: boolean
  /** A `status` subresource: writes to the object keep its status, writes to `/status` keep everything else. */
  readonly statusSubresource?: boolean
}

const csiGroup = "secrets-store.csi.x-k8s.io"

export const resources: ReadonlyArray<ResourceDef> = [
  { group: "", versions: ["v1"], plural: "pods", kind: "Pod", custom: false },
  { group: "", versions: ["v1"], plural: "secrets", kind: "Secret", custom: false },
  { group: "", versions: ["v1"], plural: "events", kind: "Event", custom: false },
  {
    group: csiGroup,
    versions: ["v1", "v1alpha1"],
    plural: "secretproviderclasses",
    kind: "SecretProviderClass",
    custom: true
  },
  {
    group: csiGroup,
    versions: ["v1", "v1alpha1"],
    plural: "secretproviderclasspodstatuses",
    kind: "SecretProviderClassPodStatus",
    custom: true
  },
  { group: "", versions: ["v1"], plural: "serviceaccounts", kind: "ServiceAccount", custom: false },
  { group: "coordination.k8s.io", versions: ["v1"], plural: "leases", kind: "Lease", custom: false },
  { group: "apps", versions: ["v1"], plural: "deployments", kind: "Deployment", custom: false },
  { group: "apps", versions: ["v1"], plural: "replicasets", kind: "ReplicaSet", custom: false },
  { group: "apps", versions: ["v1"], plural: "statefulsets", kind: "StatefulSet", custom: false },
  { group: "apps", versions: ["v1"], plural: "daemonsets", kind: "DaemonSet", custom: false },
  {
    group: "secret-sync.x-k8s.io",
    versions: ["v1alpha1"],
    plural: "secretsyncs",
    kind: "SecretSync",
    custom: true,
    statusSubresource: true
  }
]

export const resourceByKind = (kind: string) => resources.find((r) => r.kind === kind)

/** How the API server names a resource in messages: `secrets`, `secretproviderclasses.secrets-store.csi.x-k8s.io`. */
export const qualifiedName = (r: ResourceDef) => (r.group === "" ? r.plural : `${r.plural}.${r.group}`)

export type KubeObject = Record<string, unknown> & { metadata: Record<string, unknown> }
export type EventType = "ADDED" | "MODIFIED" | "DELETED"

export interface StoredEvent {
  readonly rv: number
  readonly type: EventType
  readonly resource: ResourceDef
  readonly object: KubeObject
}

export const metaOf = (o: KubeObject) =>
  o.metadata as {
    name?: string
    namespace?: string
    resourceVersion?: string
    uid?: string
    labels?: Record<string, string>
    ownerReferences?: Array<{ uid?: string }>
    generateName?: string
  }

/** A window of a list, in the API server's order (by namespace, then name). */
export interface ListPage {
  /** Only objects whose listKey sorts after this. */
  readonly after?: string
  readonly limit?: number
  readonly where?: (o: KubeObject) => boolean
}

/** Where an object sorts in a list, as etcd's key `<namespace>/<name>` does. */
export const listKey = (o: KubeObject) => `${metaOf(o).namespace ?? ""}/${metaOf(o).name ?? ""}`

const key = (r: ResourceDef, namespace: string, name: string) => `${r.plural}|${namespace}|${name}`
const clone = <A>(a: A): A => structuredClone(a)
// Kubernetes timestamps have second precision.
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z")

export class FakeApiStore {
  private readonly objects = new Map<string, KubeObject>()
  private history: Array<StoredEvent> = []
  private readonly watchers = new Set<(e: StoredEvent) => void>()
  private revision = 0
  /** The newest revision whose event was dropped from the history: watches from before it get 410 Expired. */
  compactedRevision = 0
  /** Server-side apply's field ownership: object uid -> field manager -> field paths (FakeApiApply.ts). */
  readonly fieldOwners = new Map<string, Map<string, Set<string>>>()

  private readonly historyLimit: number

  constructor(historyLimit = 10_000) {
    this.historyLimit = historyLimit
  }

  get resourceVersion(): number {
    return this.revision
  }

  get(r: ResourceDef, namespace: string, name: string): KubeObject | undefined {
    const o = this.objects.get(key(r, namespace, name))
    return o === undefined ? undefined : clone(o)
  }

  list(r: ResourceDef, namespace?: string, page: ListPage = {}): Array<KubeObject> {
    const selected = [...this.objects.values()]
      .filter((o) => o["kind"] === r.kind && (namespace === undefined || metaOf(o).namespace === namespace))
      .filter((o) => (page.after === undefined || listKey(o) > page.after) && (page.where?.(o) ?? true))
      .sort((a, b) => (listKey(a) < listKey(b) ? -1 : listKey(a) > listKey(b) ? 1 : 0))
    // Cloning only what is returned keeps a page of a large collection cheap.
    return (page.limit === undefined ? selected : selected.slice(0, page.limit)).map(clone)
  }

  /** Fills uid, creationTimestamp, resourceVersion (and a name from generateName); the caller checked existence. */
  create(r: ResourceDef, namespace: string, body: KubeObject): KubeObject {
    const meta = metaOf(body)
    const name = meta.name ?? `${meta.generateName ?? ""}${randomUUID().slice(0, 5)}`
    const object: KubeObject = {
      ...clone(body),
      kind: r.kind,
      metadata: {
        ...clone(body.metadata),
        name,
        namespace,
        uid: randomUUID(),
        creationTimestamp: now(),
        ...(r.custom ? { generation: 1 } : {})
      }
    }
    return this.commit("ADDED", r, object)
  }

  /** Replaces the object, keeping what the server owns (uid, creationTimestamp). */
  replace(r: ResourceDef, current: KubeObject, next: KubeObject): KubeObject {
    const keep = metaOf(current)
    // Like the API server, a custom resource's generation counts changes of everything but metadata (and status,
    // when it is a subresource).
    const content = (o: KubeObject) =>
      JSON.stringify({ ...o, metadata: undefined, ...(r.statusSubresource ? { status: undefined } : {}) })
    const generation = Number(current.metadata["generation"] ?? 1) + (content(current) === content(next) ? 0 : 1)
    const object: KubeObject = {
      ...clone(next),
      kind: r.kind,
      metadata: {
        ...clone(next.metadata),
        name: keep.name,
        namespace: keep.namespace,
        uid: keep.uid,
        creationTimestamp: current.metadata["creationTimestamp"],
        ...(r.custom ? { generation } : {})
      }
    }
    return this.commit("MODIFIED", r, object)
  }

  /** Deletes the object and, like the garbage collector, every object it owns. */
  delete(r: ResourceDef, namespace: string, name: string): KubeObject | undefined {
    const current = this.objects.get(key(r, namespace, name))
    if (current === undefined) return undefined
    this.objects.delete(key(r, namespace, name))
    const gone = this.emit("DELETED", r, {
      ...current,
      metadata: { ...current.metadata, resourceVersion: String(++this.revision) }
    })
    const uid = metaOf(current).uid
    if (uid !== undefined) this.fieldOwners.delete(uid)
    for (const dependent of [...this.objects.values()]) {
      if ((metaOf(dependent).ownerReferences ?? []).some((o) => o.uid === uid)) {
        const dr = resourceByKind(String(dependent["kind"]))
        if (dr !== undefined) this.delete(dr, metaOf(dependent).namespace ?? "", metaOf(dependent).name ?? "")
      }
    }
    return gone
  }

  /** Forgets the whole event history: every watch from an older resourceVersion now gets 410 Expired. */
  compact(): void {
    this.history = []
    this.compactedRevision = this.revision
  }

  /** Events after `rv`, or undefined when they are no longer all retained. */
  eventsSince(rv: number): ReadonlyArray<StoredEvent> | undefined {
    if (rv < this.compactedRevision) return undefined
    return this.history.filter((e) => e.rv > rv)
  }

  /** Open watches: a closed client connection removes its subscriber. */
  get watcherCount(): number {
    return this.watchers.size
  }

  subscribe(listener: (e: StoredEvent) => void): () => void {
    this.watchers.add(listener)
    return () => this.watchers.delete(listener)
  }

  private commit(type: EventType, r: ResourceDef, object: KubeObject): KubeObject {
    object.metadata["resourceVersion"] = String(++this.revision)
    const meta = metaOf(object)
    this.objects.set(key(r, meta.namespace ?? "", meta.name ?? ""), clone(object))
    return this.emit(type, r, object)
  }

  private emit(type: EventType, resource: ResourceDef, object: KubeObject): KubeObject {
    const event: StoredEvent = { rv: this.revision, type, resource, object: clone(object) }
    this.history.push(event)
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit)
      this.compactedRevision = dropped[dropped.length - 1]!.rv
    }
    for (const w of this.watchers) w(event)
    return clone(object)
  }
}

/** `k=v,k2==v2,k3!=v3,k4,!k5`: the label selector forms controllers use. */
export const matchesLabels = (selector: string | null, labels: Record<string, string> | undefined): boolean =>
  (selector ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .every((term) => {
      const l = labels ?? {}
      const ne = term.split("!=")
      if (ne.length === 2) return l[ne[0]!.trim()] !== ne[1]!.trim()
      const eq = term.split(/==?/)
      if (eq.length === 2) return l[eq[0]!.trim()] === eq[1]!.trim()
      if (term.startsWith("!")) return !(term.slice(1) in l)
      return term in l
    })

/** `spec.nodeName=x,metadata.name=y` (equality and inequality on dotted paths). */
export const matchesFields = (selector: string | null, object: KubeObject): boolean =>
  (selector ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .every((term) => {
      const negate = term.includes("!=")
      const [path, value] = term.split(/!=|==?/).map((s) => s.trim())
      let current: unknown = object
      for (const part of (path ?? "").split(".")) current = (current as Record<string, unknown> | undefined)?.[part]
      const actual = current === undefined || current === null ? "" : String(current)
      return negate ? actual !== value : actual === value
    })
