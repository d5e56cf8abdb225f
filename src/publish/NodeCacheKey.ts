// Who may share a node cache entry: the opt-in annotation of the SecretProviderClass (a Go duration, the longest a
// cached payload may be served stale) and the identity key of a publish. Pods with the same key share fetched content.
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { parseGoDuration } from "../config/GoValues.js"
import type { PublishRequest } from "../domain/PublishRequest.js"
import type { SecretProviderClass } from "../domain/SecretProviderClass.js"
import { type PodInfo, TOKENS_KEY } from "../domain/VolumeContext.js"
import { PublishError } from "./ConfinedTarget.js"

export const STALENESS_ANNOTATION = "secrets-store.csi.k8s.io/node-cache-max-staleness"
const SERVICE_ACCOUNT_KEY = "csi.storage.k8s.io/serviceAccount.name"

/** Where a publish may use the cache: its identity key, its class (for generation drops) and the staleness bound. */
export interface CacheScope {
  /** sha256 over the identity; equal keys, and only they, share an entry. */
  readonly key: string
  /** `<namespace>/<name>` of the SecretProviderClass. */
  readonly spc: string
  readonly generation: number
  readonly maxStalenessMillis: number
}

/** What kubelet sets per pod (its name, its uid, whether the volume is inline); the tokens differ per pod too. */
const PER_POD_KEYS: ReadonlySet<string> = new Set([
  "csi.storage.k8s.io/pod.name",
  "csi.storage.k8s.io/pod.uid",
  "csi.storage.k8s.io/ephemeral",
  TOKENS_KEY
])

/**
 * The attributes the provider is sent (the class's parameters with the pod's volume attributes on top, as
 * provider/MountRequestEncoding.ts merges them) without the per-pod keys, in a stable order: a pod's own
 * attributes (an `objects` or a role of its own) choose what the provider returns, so they belong to the identity.
 */
const attributesDigest = (spc: SecretProviderClass, request: PublishRequest): string => {
  const merged: Record<string, string> = { ...spc.spec.parameters, ...request.volumeContext }
  const entries = Object.entries(merged)
    .filter(([k]) => !PER_POD_KEYS.has(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return createHash("sha256").update(JSON.stringify(entries)).digest("hex")
}

/** The CSI secrets map without the service-account tokens (they differ per pod), in a stable order. */
const secretsDigest = (secrets: Redacted.Redacted<Readonly<Record<string, string>>>): string => {
  const entries = Object.entries(Redacted.value(secrets))
    .filter(([k]) => k !== TOKENS_KEY)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return createHash("sha256").update(JSON.stringify(entries)).digest("hex")
}

const badAnnotation = (ref: string, value: string) =>
  new PublishError({
    reason: "InvalidSecretProviderClass",
    message:
      `SecretProviderClass ${ref}: annotation ${STALENESS_ANNOTATION} is ${JSON.stringify(value.slice(0, 64))}, ` +
      "not a positive Go duration such as 30m or 1h"
  })

/**
 * The cache scope of a publish, or undefined when the class did not opt in (or the pod's service account is not
 * known: without it the key could not keep identities apart). A bad annotation fails the publish.
 */
export const cacheScopeOf = (
  spc: SecretProviderClass,
  provider: string,
  pod: PodInfo,
  request: PublishRequest
): Effect.Effect<CacheScope | undefined, PublishError> => {
  const value = spc.metadata.annotations?.[STALENESS_ANNOTATION]
  if (value === undefined) return Effect.succeed(undefined)
  const ref = `${spc.metadata.namespace}/${spc.metadata.name}`
  const nanos = parseGoDuration(value.trim())
  if (nanos === undefined || nanos <= 0n) return Effect.fail(badAnnotation(ref, value))
  const serviceAccount = request.volumeContext[SERVICE_ACCOUNT_KEY] ?? ""
  if (serviceAccount === "") return Effect.succeed(undefined)
  const generation = spc.metadata.generation ?? 0
  // The attributes too: the pod's own may override a parameter, and a class read from a file (standalone mode) has
  // no generation to tell its versions apart.
  const identity = [
    provider,
    ref,
    String(generation),
    attributesDigest(spc, request),
    pod.namespace,
    serviceAccount,
    secretsDigest(request.secrets)
  ]
  return Effect.succeed({
    key: createHash("sha256").update(JSON.stringify(identity)).digest("hex"),
    spc: ref,
    generation,
    maxStalenessMillis: Number(nanos / 1_000_000n)
  })
}
