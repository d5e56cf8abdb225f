// The SecretSync object of `secret-sync.x-k8s.io/v1alpha1` (upstream secrets-store-sync-controller v0.0.4) as the
// controller reads it: decoded leniently like a Go struct, plus the CRD's own validation rules (patterns, sizes,
// reserved keys) as pure checks, for files that never passed an API server and as defence in depth.
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { stripNulls } from "./SecretProviderClass.js"

export const syncGroup = "secret-sync.x-k8s.io"
export const syncVersion = "v1alpha1"
export const syncApiVersion = `${syncGroup}/${syncVersion}`
/** The label (and reserved prefix) every synced Secret carries. */
export const reservedKey = "secrets-store.sync.x-k8s.io"
/** Per-object refresh interval (a Go duration), never below the controller's floor. */
export const refreshIntervalAnnotation = "secret-sync.x-k8s.io/refresh-interval"
export const serviceAccountTokenType = "kubernetes.io/service-account-token"

const StringMap = Schema.Record(Schema.String, Schema.String)
const emptyString = Effect.succeed("")

export const SecretObjectData = Schema.Struct({
  sourcePath: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
  targetKey: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString))
})
export type SecretObjectData = typeof SecretObjectData.Type

export const SecretObject = Schema.Struct({
  type: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
  data: Schema.Array(SecretObjectData).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))),
  labels: Schema.optionalKey(StringMap),
  annotations: Schema.optionalKey(StringMap)
})
export type SecretObject = typeof SecretObject.Type

export const Condition = Schema.Struct({
  type: Schema.String,
  status: Schema.Literals(["True", "False", "Unknown"]),
  reason: Schema.String,
  message: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
  lastTransitionTime: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
  observedGeneration: Schema.optionalKey(Schema.Number)
})
export type Condition = typeof Condition.Type

export const SecretSyncStatus = Schema.Struct({
  syncHash: Schema.optionalKey(Schema.String),
  lastSuccessfulSyncTime: Schema.optionalKey(Schema.String),
  conditions: Schema.Array(Condition).pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))
})
export type SecretSyncStatus = typeof SecretSyncStatus.Type

export const SecretSync = Schema.Struct({
  apiVersion: Schema.Literal(syncApiVersion),
  kind: Schema.Literal("SecretSync"),
  metadata: Schema.Struct({
    name: Schema.String,
    namespace: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("default"))),
    uid: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
    generation: Schema.Number.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
    resourceVersion: Schema.optionalKey(Schema.String),
    annotations: Schema.optionalKey(StringMap)
  }),
  spec: Schema.Struct({
    secretProviderClassName: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
    serviceAccountName: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
    secretObject: SecretObject.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
    secretSyncControllerName: Schema.String.pipe(Schema.withDecodingDefaultKey(emptyString)),
    forceSynchronization: Schema.optionalKey(Schema.String)
  }).pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  status: SecretSyncStatus.pipe(Schema.withDecodingDefaultKey(Effect.succeed({})))
})
export type SecretSync = typeof SecretSync.Type

const decodeSs = Schema.decodeUnknownEffect(SecretSync)
export const decodeSecretSync = (u: unknown) => decodeSs(stripNulls(u))

// The CRD's patterns, copied exactly: a drop-in must accept and refuse the same objects.
export const dnsSubdomainPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
export const keyPattern = /^[A-Za-z0-9.]([-A-Za-z0-9]+([-._a-zA-Z0-9]?[A-Za-z0-9])*)?(\/([0-9]+))*$/
export const forceSynchronizationPattern = /^[A-Za-z0-9]([-A-Za-z0-9]+([-._a-zA-Z0-9]?[A-Za-z0-9])*)?$/

// The CEL messages of the CRD, word for word.
export const labelSizeMessage = "Labels should have < 63 characters for both keys and values."
const reservedNote = "This key is reserved for the controller."
export const labelReservedMessage = `Labels should not contain ${reservedKey}. ${reservedNote}`
export const annotationSizeMessage = "Annotations should have < 253 characters for both keys and values."
export const annotationReservedMessage = `Annotations should not contain ${reservedKey}. ${reservedNote}`

const lengthBetween = (text: string, min: number, max: number) => text.length >= min && text.length <= max

const nameProblems = (field: string, value: string): ReadonlyArray<string> =>
  lengthBetween(value, 1, 253) && dnsSubdomainPattern.test(value)
    ? []
    : [`spec.${field}: must be a DNS-1123 subdomain of 1 to 253 characters`]

const mapProblems = (
  field: string,
  map: Readonly<Record<string, string>> | undefined,
  below: number,
  sizeMessage: string,
  reservedMessage: string
): ReadonlyArray<string> => {
  const entries = Object.entries(map ?? {})
  return [
    ...(entries.every(([k, v]) => k.length < below && v.length < below) ? [] : [`${field}: ${sizeMessage}`]),
    ...(entries.some(([k]) => k.startsWith(reservedKey)) ? [`${field}: ${reservedMessage}`] : [])
  ]
}

const dataProblems = (data: ReadonlyArray<SecretObjectData>): ReadonlyArray<string> => {
  if (data.length === 0) return ["spec.secretObject.data: must hold at least 1 item"]
  const problems: Array<string> = []
  const seen = new Set<string>()
  data.forEach((item, i) => {
    for (const field of ["sourcePath", "targetKey"] as const) {
      const value = item[field]
      if (!lengthBetween(value, 1, 253) || !keyPattern.test(value)) {
        problems.push(
          `spec.secretObject.data[${i}].${field}: ${JSON.stringify(value)} does not match ${keyPattern.source}`
        )
      }
    }
    if (seen.has(item.targetKey)) {
      problems.push(`spec.secretObject.data[${i}]: duplicate targetKey ${JSON.stringify(item.targetKey)}`)
    }
    seen.add(item.targetKey)
  })
  return problems
}

/** Every rule the v0.0.4 CRD enforces on a SecretSync's spec; empty when the API server would accept it. */
export const secretSyncProblems = (ss: SecretSync): ReadonlyArray<string> => {
  const { spec } = ss
  const object = spec.secretObject
  const force = spec.forceSynchronization
  return [
    ...nameProblems("secretProviderClassName", spec.secretProviderClassName),
    ...nameProblems("serviceAccountName", spec.serviceAccountName),
    ...(lengthBetween(object.type, 1, 253) ? [] : ["spec.secretObject.type: must be 1 to 253 characters"]),
    ...dataProblems(object.data),
    ...mapProblems("spec.secretObject.labels", object.labels, 63, labelSizeMessage, labelReservedMessage),
    ...mapProblems(
      "spec.secretObject.annotations",
      object.annotations,
      253,
      annotationSizeMessage,
      annotationReservedMessage
    ),
    ...(force === undefined || (force.length <= 253 && forceSynchronizationPattern.test(force))
      ? []
      : [`spec.forceSynchronization: ${JSON.stringify(force)} does not match ${forceSynchronizationPattern.source}`])
  ]
}

/** `namespace/name`, the work-queue key. */
export const secretSyncKey = (ss: { readonly metadata: { readonly namespace: string; readonly name: string } }) =>
  `${ss.metadata.namespace}/${ss.metadata.name}`
