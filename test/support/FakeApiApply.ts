// Server-side apply for the fake API server, as far as the sync controller's tests need it: field ownership per
// field manager over leaf paths (map entries per key, lists atomic), conflicts with other managers unless
// `force=true`, removal of fields a manager stops applying, a `metadata.uid` precondition, and an apply that
// changes nothing writes nothing (same resourceVersion). Other writes move the fields they change to their manager.
import type { FakeApiStore, KubeObject, ResourceDef } from "./FakeApiStore.js"
import { metaOf } from "./FakeApiStore.js"

type Leaves = Map<string, unknown>

// Keys hold dots (`secrets-store.sync.x-k8s.io`): paths join their segments with a byte no key holds.
const SEP = "\u0001"
const shown = (path: string) => `.${path.split(SEP).join(".")}`

// What the server owns or a client names, not content: never a field of the apply.
const identity = new Set([
  "apiVersion",
  "kind",
  ...["name", "namespace", "uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"].map(
    (k) => `metadata${SEP}${k}`
  )
])

/** Leaf paths of an object: objects are walked, everything else (lists, scalars) is one leaf. */
export const leaves = (o: unknown, prefix = "", out: Leaves = new Map()): Leaves => {
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    const path = prefix === "" ? k : `${prefix}${SEP}${k}`
    if (identity.has(path)) continue
    if (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length > 0) leaves(v, path, out)
    else out.set(path, v)
  }
  return out
}

const setPath = (o: Record<string, unknown>, path: string, value: unknown) => {
  const parts = path.split(SEP)
  let at = o
  for (const part of parts.slice(0, -1)) {
    if (typeof at[part] !== "object" || at[part] === null) at[part] = {}
    at = at[part] as Record<string, unknown>
  }
  at[parts.at(-1)!] = structuredClone(value)
}

const deletePath = (o: Record<string, unknown>, path: string) => {
  const parts = path.split(SEP)
  let at: Record<string, unknown> | undefined = o
  for (const part of parts.slice(0, -1)) at = at?.[part] as Record<string, unknown> | undefined
  if (at !== undefined) delete at[parts.at(-1)!]
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

const ownersOf = (store: FakeApiStore, uid: string) => {
  let owners = store.fieldOwners.get(uid)
  if (owners === undefined) store.fieldOwners.set(uid, (owners = new Map()))
  return owners
}

export type ApplyOutcome =
  | { readonly _tag: "Written"; readonly object: KubeObject; readonly created: boolean }
  | { readonly _tag: "Conflict"; readonly message: string }

export const apply = (
  store: FakeApiStore,
  r: ResourceDef,
  namespace: string,
  body: KubeObject,
  manager: string,
  force: boolean
): ApplyOutcome => {
  const applied = leaves(body)
  const current = store.get(r, namespace, metaOf(body).name ?? "")
  if (current === undefined) {
    const { uid: _ignored, ...metadata } = body.metadata
    const created = store.create(r, namespace, { ...body, metadata })
    ownersOf(store, metaOf(created).uid!).set(manager, new Set(applied.keys()))
    return { _tag: "Written", object: created, created: true }
  }
  const uid = metaOf(current).uid!
  const wanted = metaOf(body).uid
  if (wanted !== undefined && wanted !== uid) {
    return {
      _tag: "Conflict",
      message: `Precondition failed: UID in precondition: ${wanted}, UID in object meta: ${uid}`
    }
  }
  const owners = ownersOf(store, uid)
  const have = leaves(current)
  const conflicts: Array<string> = []
  for (const [path, value] of applied) {
    for (const [other, paths] of owners) {
      if (other !== manager && paths.has(path) && !same(have.get(path), value)) {
        conflicts.push(`conflict with "${other}": ${shown(path)}`)
      }
    }
  }
  if (conflicts.length > 0 && !force) {
    return { _tag: "Conflict", message: `Apply failed with ${conflicts.length} conflict(s): ${conflicts.join(", ")}` }
  }
  const next = structuredClone(current) as Record<string, unknown>
  const mine = owners.get(manager) ?? new Set<string>()
  for (const path of mine) {
    const shared = [...owners].some(([other, paths]) => other !== manager && paths.has(path))
    if (!applied.has(path) && !shared) deletePath(next, path)
  }
  for (const [path, value] of applied) {
    setPath(next, path, value)
    for (const [other, paths] of owners) {
      if (other !== manager && (force || !same(have.get(path), value))) paths.delete(path)
    }
  }
  owners.set(manager, new Set(applied.keys()))
  if (same(next, current)) return { _tag: "Written", object: current, created: false }
  return { _tag: "Written", object: store.replace(r, current, next as KubeObject), created: false }
}

/** A non-apply write by `manager`: the fields it changed become its own. */
export const recordWrite = (store: FakeApiStore, before: KubeObject, after: KubeObject, manager: string) => {
  const uid = metaOf(after).uid
  if (uid === undefined) return
  const owners = ownersOf(store, uid)
  const was = leaves(before)
  const now = leaves(after)
  const changed = [...now].filter(([path, value]) => !same(was.get(path), value)).map(([path]) => path)
  const removed = [...was.keys()].filter((path) => !now.has(path))
  for (const paths of owners.values()) for (const path of [...changed, ...removed]) paths.delete(path)
  const own = owners.get(manager) ?? new Set<string>()
  for (const path of changed) own.add(path)
  owners.set(manager, own)
}
