// The REST semantics of the fake API server: path parsing, get/list/create/update/patch/delete over the store,
// and Status bodies shaped like the real API server's (reason, code, details), so client code sees real errors.
import {
  type FakeApiStore,
  type KubeObject,
  listKey,
  matchesFields,
  matchesLabels,
  metaOf,
  qualifiedName,
  type ResourceDef,
  resources
} from "./FakeApiStore.js"
import { apply, recordWrite } from "./FakeApiApply.js"

export interface Target {
  readonly resource: ResourceDef
  readonly version: string
  /** undefined on the cluster-wide list/watch paths. */
  readonly namespace: string | undefined
  readonly name: string | undefined
  /** `status` or `token` after the name, when the path has one. */
  readonly subresource?: string
}

export interface Reply {
  readonly status: number
  readonly body: unknown
}

const reasons: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout"
}

export const statusBody = (code: number, message: string, reason?: string, details?: Record<string, unknown>) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason: reason ?? reasons[code] ?? "Unknown",
  ...(details === undefined ? {} : { details }),
  code
})

const fail = (code: number, message: string, reason?: string, details?: Record<string, unknown>): Reply => ({
  status: code,
  body: statusBody(code, message, reason, details)
})

const details = (t: Target, name: string) => ({
  name,
  ...(t.resource.group === "" ? {} : { group: t.resource.group }),
  kind: t.resource.plural
})

const notFound = (t: Target, name: string) =>
  fail(404, `${qualifiedName(t.resource)} "${name}" not found`, "NotFound", details(t, name))

const conflict = (t: Target, name: string) =>
  fail(
    409,
    `Operation cannot be fulfilled on ${qualifiedName(t.resource)} "${name}": the object has been modified; ` +
      "please apply your changes to the latest version and try again",
    "Conflict",
    details(t, name)
  )

/** `/api/v1[/namespaces/{ns}]/{plural}[/{name}]` and `/apis/{group}/{version}[/namespaces/{ns}]/{plural}[/{name}]`. */
export const parsePath = (pathname: string): Target | undefined => {
  const parts = pathname
    .split("/")
    .filter((p) => p !== "")
    .map(decodeURIComponent)
  let group: string, version: string, rest: Array<string>
  if (parts[0] === "api") [group, version, rest] = ["", parts[1] ?? "", parts.slice(2)]
  else if (parts[0] === "apis") [group, version, rest] = [parts[1] ?? "", parts[2] ?? "", parts.slice(3)]
  else return undefined
  let namespace: string | undefined
  if (rest[0] === "namespaces" && rest.length >= 3) [namespace, rest] = [rest[1], rest.slice(2)]
  if (rest.length < 1 || rest.length > 3) return undefined
  const resource = resources.find((r) => r.group === group && r.plural === rest[0] && r.versions.includes(version))
  if (resource === undefined || (rest.length >= 2 && namespace === undefined)) return undefined
  const subresource = rest[2]
  if (
    subresource !== undefined &&
    !(subresource === "status" && resource.statusSubresource) &&
    !(subresource === "token" && resource.plural === "serviceaccounts")
  )
    return undefined
  return { resource, version, namespace, name: rest[1], ...(subresource === undefined ? {} : { subresource }) }
}

/** What a client sees: the apiVersion it asked for (v1alpha1 is served from the same store). */
export const present = (t: Target, o: KubeObject): KubeObject => ({
  ...o,
  apiVersion: t.resource.group === "" ? t.version : `${t.resource.group}/${t.version}`,
  kind: t.resource.kind
})

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

const validate = (t: Target, o: KubeObject): Reply | undefined => {
  const name = metaOf(o).name
  if (name === undefined || name === "") {
    if (metaOf(o).generateName !== undefined) return undefined
    return fail(
      422,
      `${t.resource.kind} "" is invalid: metadata.name: Required value: name or generateName is required`
    )
  }
  if (name.length > 253 || !dnsSubdomain.test(name)) {
    return fail(
      422,
      `${t.resource.kind} "${name}" is invalid: metadata.name: Invalid value: "${name}": ` +
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', " +
        "and must start and end with an alphanumeric character (must be no more than 253 characters)"
    )
  }
  return undefined
}

const asObject = (u: unknown): KubeObject | undefined =>
  typeof u === "object" &&
  u !== null &&
  !Array.isArray(u) &&
  typeof (u as { metadata?: unknown }).metadata === "object" &&
  (u as { metadata?: unknown }).metadata !== null
    ? (u as KubeObject)
    : undefined

/** RFC 7386; strategic merge is treated the same (enough for labels, annotations, ownerReferences, data). */
export const mergePatch = (target: unknown, patch: unknown): unknown => {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

interface ContinueToken {
  /** The resourceVersion of the list's first page: every later page answers with it. */
  readonly rv: number
  /** The listKey of the last object returned. */
  readonly start: string
}

const encodeContinue = (token: ContinueToken) => Buffer.from(JSON.stringify(token)).toString("base64url")

const decodeContinue = (text: string): ContinueToken | undefined => {
  try {
    const token = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as Partial<ContinueToken>
    const valid = typeof token.rv === "number" && typeof token.start === "string"
    return valid ? { rv: token.rv!, start: token.start! } : undefined
  } catch {
    return undefined
  }
}

// The real API server's words for a continue token older than its compaction.
const continueExpired =
  "The provided continue parameter is too old to display a consistent list result. You can " +
  "start a new list without the continue parameter."

/**
 * `limit`/`continue` as the API server pages a list: at most `limit` items in key order, and a `continue` token
 * while more remain. A token from before the last compaction is 410 Expired, as the real server answers once etcd
 * has compacted the list's revision. (The fake has no old snapshots: later pages show the current objects.)
 */
const list = (store: FakeApiStore, t: Target, query: URLSearchParams): Reply => {
  const limit = Number(query.get("limit") ?? "")
  const paged = Number.isInteger(limit) && limit > 0
  const text = query.get("continue")
  const token = text === null || text === "" ? undefined : decodeContinue(text)
  if (text !== null && text !== "" && token === undefined) return fail(400, "continue key is not valid")
  if (token !== undefined && token.rv < store.compactedRevision) return fail(410, continueExpired, "Expired")
  const rv = token?.rv ?? store.resourceVersion
  const where = (o: KubeObject) =>
    matchesLabels(query.get("labelSelector"), metaOf(o).labels) && matchesFields(query.get("fieldSelector"), o)
  const items = store.list(t.resource, t.namespace, {
    where,
    ...(token === undefined ? {} : { after: token.start }),
    ...(paged ? { limit: limit + 1 } : {})
  })
  const more = paged && items.length > limit
  const page = more ? items.slice(0, limit) : items
  return {
    status: 200,
    body: {
      apiVersion: present(t, { metadata: {} }).apiVersion,
      kind: `${t.resource.kind}List`,
      metadata: {
        resourceVersion: String(rv),
        ...(more ? { continue: encodeContinue({ rv, start: listKey(page.at(-1)!) }) } : {})
      },
      items: page.map((o) => present(t, o))
    }
  }
}

const create = (store: FakeApiStore, t: Target, body: unknown): Reply => {
  const o = asObject(body)
  if (o === undefined || t.namespace === undefined) return fail(400, "the body of the request was in an unknown format")
  const ns = metaOf(o).namespace
  if (ns !== undefined && ns !== "" && ns !== t.namespace) {
    return fail(400, "the namespace of the provided object does not match the namespace sent on the request")
  }
  const invalid = validate(t, o)
  if (invalid !== undefined) return invalid
  const name = metaOf(o).name
  if (name !== undefined && name !== "" && store.get(t.resource, t.namespace, name) !== undefined) {
    return fail(409, `${qualifiedName(t.resource)} "${name}" already exists`, "AlreadyExists", details(t, name))
  }
  return { status: 201, body: present(t, store.create(t.resource, t.namespace, o)) }
}

const update = (store: FakeApiStore, t: Target, name: string, body: unknown): Reply => {
  const o = asObject(body)
  if (o === undefined) return fail(400, "the body of the request was in an unknown format")
  if (metaOf(o).name !== name) return fail(400, "the name of the object does not match the name on the URL")
  const current = store.get(t.resource, t.namespace!, name)
  if (current === undefined) return notFound(t, name)
  const rv = metaOf(o).resourceVersion
  if ((rv === undefined || rv === "") && t.resource.custom) {
    return fail(
      422,
      `${t.resource.kind} "${name}" is invalid: ` +
        "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    )
  }
  if (rv !== undefined && rv !== "" && rv !== metaOf(current).resourceVersion) return conflict(t, name)
  const written = store.replace(t.resource, current, withSubresource(t, current, o))
  recordWrite(store, current, written, "unknown")
  return { status: 200, body: present(t, written) }
}

const patch = (
  store: FakeApiStore,
  t: Target,
  name: string,
  body: unknown,
  contentType: string,
  query: URLSearchParams
): Reply => {
  if (contentType.startsWith("application/apply-patch+yaml")) return applyPatch(store, t, name, body, query)
  if (
    !contentType.startsWith("application/merge-patch+json") &&
    !contentType.startsWith("application/strategic-merge-patch+json")
  ) {
    return fail(
      415,
      "the body of the request was in an unknown format - accepted media types include: " +
        "application/merge-patch+json, application/strategic-merge-patch+json"
    )
  }
  const current = store.get(t.resource, t.namespace!, name)
  if (current === undefined) return notFound(t, name)
  const rv = (body as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion
  if (typeof rv === "string" && rv !== metaOf(current).resourceVersion) return conflict(t, name)
  const merged = asObject(mergePatch(current, body))
  if (merged === undefined) return fail(422, `${t.resource.kind} "${name}" is invalid: metadata: Required value`)
  const next = withSubresource(t, current, merged)
  const written = store.replace(t.resource, current, next)
  recordWrite(store, current, written, query.get("fieldManager") ?? "unknown")
  return { status: 200, body: present(t, written) }
}

/** With a status subresource, `/status` writes change only the status and other writes never do. */
const withSubresource = (t: Target, current: KubeObject, next: KubeObject): KubeObject => {
  if (t.resource.statusSubresource !== true) return next
  if (t.subresource === "status") return { ...current, status: next["status"] }
  const { status: _ignored, ...rest } = next
  return current["status"] === undefined
    ? (rest as KubeObject)
    : { ...rest, metadata: next.metadata, status: current["status"] }
}

const applyPatch = (store: FakeApiStore, t: Target, name: string, body: unknown, query: URLSearchParams): Reply => {
  const o = asObject(body)
  const manager = query.get("fieldManager")
  if (o === undefined || metaOf(o).name !== name)
    return fail(400, "the name of the object does not match the name on the URL")
  if (manager === null || manager === "")
    return fail(
      422,
      'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )
  const invalid = validate(t, o)
  if (invalid !== undefined) return invalid
  const outcome = apply(store, t.resource, t.namespace!, o, manager, query.get("force") === "true")
  if (outcome._tag === "Conflict") return fail(409, outcome.message, "Conflict", details(t, name))
  return { status: outcome.created ? 201 : 200, body: present(t, outcome.object) }
}

/** POST serviceaccounts/<sa>/token: a fake JWT (header.claims.signature) naming the account and audiences. */
const tokenRequest = (store: FakeApiStore, t: Target, name: string, body: unknown): Reply => {
  if (store.get(t.resource, t.namespace!, name) === undefined) return notFound(t, name)
  const spec = (body as { spec?: { audiences?: Array<string>; expirationSeconds?: number } } | undefined)?.spec ?? {}
  const seconds = spec.expirationSeconds ?? 3600
  const exp = Math.floor(Date.now() / 1000) + seconds
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url")
  const claims = { aud: spec.audiences ?? [], sub: `system:serviceaccount:${t.namespace}:${name}`, exp }
  return {
    status: 201,
    body: {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      metadata: { name, namespace: t.namespace },
      spec,
      status: {
        token: `${part({ alg: "none" })}.${part(claims)}.fake`,
        expirationTimestamp: new Date(exp * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")
      }
    }
  }
}

const remove = (store: FakeApiStore, t: Target, name: string): Reply => {
  const gone = store.delete(t.resource, t.namespace!, name)
  if (gone === undefined) return notFound(t, name)
  return {
    status: 200,
    body: {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: { ...details(t, name), uid: metaOf(gone).uid }
    }
  }
}

/** Every verb but watch. */
export const route = (
  store: FakeApiStore,
  method: string,
  t: Target,
  query: URLSearchParams,
  body: unknown,
  contentType: string
): Reply => {
  const name = t.name
  if (t.subresource === "token" && name !== undefined) {
    return method === "POST"
      ? tokenRequest(store, t, name, body)
      : fail(405, "the server does not allow this method on the requested resource")
  }
  if (name === undefined) {
    if (method === "GET") return list(store, t, query)
    if (method === "POST") return create(store, t, body)
  } else {
    if (method === "GET")
      return store.get(t.resource, t.namespace!, name) === undefined
        ? notFound(t, name)
        : { status: 200, body: present(t, store.get(t.resource, t.namespace!, name)!) }
    if (method === "PUT") return update(store, t, name, body)
    if (method === "PATCH") return patch(store, t, name, body, contentType, query)
    if (method === "DELETE") return remove(store, t, name)
  }
  return fail(405, `the server does not allow this method on the requested resource`)
}
