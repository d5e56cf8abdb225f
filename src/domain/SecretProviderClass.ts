// The two CRDs of group secrets-store.csi.x-k8s.io as the driver reads and writes them (docs/upstream.md#crds), decoded
// leniently like upstream's Go structs: unknown fields ignored, nulls and missing fields allowed. Whether an SPC
// is usable (provider and parameters set) is the publisher's decision, not the decoder's.
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

export const group = "secrets-store.csi.x-k8s.io"
export const nodeNameLabel = "internal.secrets-store.csi.k8s.io/node-name"

const StringMap = Schema.Record(Schema.String, Schema.String)
const emptyString = Effect.succeed("")

const ObjectMeta = Schema.Struct({
  name: Schema.String,
  namespace: Schema.String,
  resourceVersion: Schema.optionalKey(Schema.String),
  uid: Schema.optionalKey(Schema.String),
  /** The spec's version: the API server bumps it on every spec change (not on metadata-only changes). */
  generation: Schema.optionalKey(Schema.Number),
  labels: Schema.optionalKey(StringMap),
  annotations: Schema.optionalKey(StringMap)
})

export const SecretObjectData = Schema.Struct({
  objectName: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
  key: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString))
})
export type SecretObjectData = typeof SecretObjectData.Type

/** secretName and type are required by the sync controller, not by the CRD: missing decodes as "". */
export const SecretObject = Schema.Struct({
  secretName: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
  type: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
  labels: Schema.optionalKey(StringMap),
  annotations: Schema.optionalKey(StringMap),
  data: Schema.optionalKey(Schema.Array(SecretObjectData))
})
export type SecretObject = typeof SecretObject.Type

export const SecretProviderClassSpec = Schema.Struct({
  provider: Schema.optionalKey(Schema.String),
  parameters: Schema.optionalKey(StringMap),
  secretObjects: Schema.optionalKey(Schema.Array(SecretObject))
})

const ApiVersion = Schema.Literals([`${group}/v1`, `${group}/v1alpha1`])

export const SecretProviderClass = Schema.Struct({
  apiVersion: ApiVersion,
  kind: Schema.Literal("SecretProviderClass"),
  metadata: ObjectMeta,
  spec: SecretProviderClassSpec.pipe(Schema.withDecodingDefaultKey(Effect.succeed({})))
})
export type SecretProviderClass = typeof SecretProviderClass.Type

export const PodStatusObject = Schema.Struct({ id: Schema.String, version: Schema.String })
export type PodStatusObject = typeof PodStatusObject.Type

export const OwnerReference = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.String,
  name: Schema.String,
  uid: Schema.String
})
export type OwnerReference = typeof OwnerReference.Type

export const SecretProviderClassPodStatus = Schema.Struct({
  apiVersion: ApiVersion,
  kind: Schema.Literal("SecretProviderClassPodStatus"),
  metadata: Schema.Struct({
    ...ObjectMeta.fields,
    ownerReferences: Schema.optionalKey(Schema.Array(OwnerReference))
  }),
  status: Schema.Struct({
    podName: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
    secretProviderClassName: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
    mounted: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))),
    targetPath: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
    objects: Schema.Array(PodStatusObject).pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))
  }).pipe(Schema.withDecodingDefaultKey(Effect.succeed({})))
})
export type SecretProviderClassPodStatus = typeof SecretProviderClassPodStatus.Type

/** Go decodes JSON null as the zero value; dropping null keys lets the optional fields above say "absent". */
export const stripNulls = (u: unknown): unknown => {
  if (Array.isArray(u)) return u.filter((x) => x !== null).map(stripNulls)
  if (typeof u !== "object" || u === null) return u
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(u)) if (v !== null) out[k] = stripNulls(v)
  return out
}

const decodeSpc = Schema.decodeUnknownEffect(SecretProviderClass)
const decodeSpcps = Schema.decodeUnknownEffect(SecretProviderClassPodStatus)

export const decodeSecretProviderClass = (u: unknown) => decodeSpc(stripNulls(u))
export const decodeSecretProviderClassPodStatus = (u: unknown) => decodeSpcps(stripNulls(u))

/** DNS-1123 subdomain limit: an SPCPS name longer than this is refused by the API server. */
const maxObjectNameLength = 253
const hashLength = 16

/**
 * `<pod>-<namespace>-<spc>` (docs/upstream.md#pod-status-writes). Upstream never shortens; here a name over 253
 * characters becomes a prefix of it, "-", and 16 hex characters of the full name's sha256: deterministic, so every
 * republish of the same pod/SPC finds the same object, and still a DNS subdomain (the prefix never ends in "-" or
 * ".").
 */
export const podStatusName = (pod: string, namespace: string, spc: string): string => {
  const full = `${pod}-${namespace}-${spc}`
  if (full.length <= maxObjectNameLength) return full
  const hash = createHash("sha256").update(full).digest("hex").slice(0, hashLength)
  const prefix = full.slice(0, maxObjectNameLength - hashLength - 1).replace(/[-.]+$/, "")
  return `${prefix}-${hash}`
}
