// Making one desired Secret exist: create it, or JSON-merge-patch it so data, type, our labels and annotations match
// while foreign labels, annotations and owners survive (docs/contract.md#patch-not-replace-synced-secrets; upstream
// v1.6 full-Updates and wipes owners until its 5 s patcher re-adds them, #2051). Owners are only ever added.
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { OwnerReference } from "../domain/SecretProviderClass.js"
import type { KubeApiShape } from "../k8s/KubeApi.js"
import { isAlreadyExists, isConflict, isNotFound, type KubernetesError } from "../k8s/KubernetesError.js"
import type { DesiredSecret } from "./SecretBuilder.js"
import { asRecord, type Json } from "../k8s/KubeResponses.js"

export const secretsPath = (namespace: string, name?: string) => {
  const secrets = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`
  return name === undefined ? secrets : `${secrets}/${encodeURIComponent(name)}`
}

export type SecretOutcome = "created" | "patched" | "unchanged"

/** Entries of `desired` whose value differs in `current` (a merge patch of a string map). */
const changed = (current: unknown, desired: Readonly<Record<string, string>>): Json | undefined => {
  const have = asRecord(current)
  const diff = Object.entries(desired).filter(([k, v]) => have[k] !== v)
  return diff.length === 0 ? undefined : Object.fromEntries(diff)
}

/** Data keys become exactly the desired ones: stale keys (a renamed `key` in the SPC) are removed with null. */
const dataPatch = (current: unknown, desired: Readonly<Record<string, string>>): Json | undefined => {
  const removed = Object.keys(asRecord(current))
    .filter((k) => !(k in desired))
    .map((k) => [k, null] as const)
  const patch = { ...changed(current, desired), ...Object.fromEntries(removed) }
  return Object.keys(patch).length === 0 ? undefined : patch
}

/** The existing owners plus the missing ones (matched by uid), or undefined when none is missing. */
const ownersPatch = (current: unknown, owners: ReadonlyArray<OwnerReference>): ReadonlyArray<unknown> | undefined => {
  const existing = Array.isArray(current) ? current : []
  const uids = new Set(existing.map((o) => asRecord(o)["uid"]))
  const missing = owners.filter((o) => !uids.has(o.uid))
  return missing.length === 0 ? undefined : [...existing, ...missing]
}

/**
 * The JSON merge patch that brings `existing` to `desired`, or undefined when nothing differs. It carries the
 * resourceVersion: the owner list is replaced as a whole, so a concurrent change must make it fail (409) and
 * be recomputed, never be overwritten.
 */
export const secretPatch = (
  existing: unknown,
  desired: DesiredSecret,
  owners: ReadonlyArray<OwnerReference>
): Json | undefined => {
  const current = asRecord(existing)
  const meta = asRecord(current["metadata"])
  const metadata: Json = {}
  const labels = changed(meta["labels"], desired.labels)
  const annotations = changed(meta["annotations"], desired.annotations)
  const ownerReferences = ownersPatch(meta["ownerReferences"], owners)
  if (labels !== undefined) metadata["labels"] = labels
  if (annotations !== undefined) metadata["annotations"] = annotations
  if (ownerReferences !== undefined) metadata["ownerReferences"] = ownerReferences
  const data = dataPatch(current["data"], desired.data)
  const type = (current["type"] ?? "Opaque") === desired.type ? undefined : desired.type
  if (Object.keys(metadata).length === 0 && data === undefined && type === undefined) return undefined
  return {
    metadata: { ...metadata, resourceVersion: meta["resourceVersion"] },
    ...(data === undefined ? {} : { data }),
    ...(type === undefined ? {} : { type })
  }
}

const newSecret = (desired: DesiredSecret, owners: ReadonlyArray<OwnerReference>) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: {
    name: desired.name,
    namespace: desired.namespace,
    labels: desired.labels,
    ...(Object.keys(desired.annotations).length === 0 ? {} : { annotations: desired.annotations }),
    ...(owners.length === 0 ? {} : { ownerReferences: owners })
  },
  type: desired.type,
  data: desired.data
})

// Another writer (a second pod of the same Deployment on this node, a user) changed the Secret between our read
// and write, or created it first: read again and recompute.
const secretWriteRetry = {
  schedule: Schedule.exponential("10 millis").pipe(Schedule.jittered),
  times: 5,
  while: (e: KubernetesError) => isConflict(e) || isAlreadyExists(e)
}

/** Creates or patches one Secret; a read first, so a resync of an unchanged Secret writes nothing. */
export const upsertSecret = (
  api: KubeApiShape,
  desired: DesiredSecret,
  owners: ReadonlyArray<OwnerReference>
): Effect.Effect<SecretOutcome, KubernetesError> => {
  const ref = `secret ${desired.namespace}/${desired.name}`
  const path = secretsPath(desired.namespace, desired.name)
  return api.request({ method: "GET", path, description: `get ${ref}` }).pipe(
    Effect.map((existing): unknown => existing),
    Effect.catchIf(isNotFound, () => Effect.succeed(undefined)),
    Effect.flatMap((existing): Effect.Effect<SecretOutcome, KubernetesError> => {
      if (existing === undefined) {
        const body = newSecret(desired, owners)
        return api
          .request({ method: "POST", path: secretsPath(desired.namespace), body, description: `create ${ref}` })
          .pipe(Effect.as("created" as const))
      }
      const patch = secretPatch(existing, desired, owners)
      if (patch === undefined) return Effect.succeed("unchanged")
      return api
        .request({
          method: "PATCH",
          path,
          body: patch,
          contentType: "application/merge-patch+json",
          description: `patch ${ref}`
        })
        .pipe(Effect.as("patched" as const))
    }),
    Effect.retry(secretWriteRetry)
  )
}
