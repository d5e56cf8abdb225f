// What a rotation changed, told the same way everywhere (pure): the changed object ids with their old and new
// versions (never contents), the SecretRotated Event message, and the restart digest that every node computes
// alike from the same versions, so the drivers of many nodes write one value and the workload rolls once.
import { createHash } from "node:crypto"
import type { PodStatusObject } from "../domain/SecretProviderClass.js"
import { maxMessageBytes, truncateUtf8 } from "../k8s/Events.js"
import { printable } from "../provider/ProviderText.js"

/** The SPC annotation that opts a class's workloads into a rolling restart after a rotation. */
export const restartOnRotationAnnotation = "secrets-store.csi.k8s.io/restart-on-rotation"

/** One object id whose version differs; `undefined` on one side: the id was added or removed. */
export interface ObjectChange {
  readonly id: string
  readonly from: string | undefined
  readonly to: string | undefined
}

export interface ClassRef {
  readonly namespace: string
  readonly name: string
}

// Byte order, as the SPCPS sorts its objects, so every node lists and hashes alike.
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** One version per id, the last one winning (as the SPCPS keeps them). */
const versionsById = (objects: ReadonlyArray<PodStatusObject>) => {
  const map = new Map<string, string>()
  for (const { id, version } of objects) map.set(id, version)
  return map
}

/** The ids whose version changed, appeared or disappeared, sorted by id; empty when the content is the same. */
export const changedObjects = (
  previous: ReadonlyArray<PodStatusObject>,
  current: ReadonlyArray<PodStatusObject>
): ReadonlyArray<ObjectChange> => {
  const before = versionsById(previous)
  const after = versionsById(current)
  const ids = [...new Set([...before.keys(), ...after.keys()])].sort(byId)
  return ids
    .map((id) => ({ id, from: before.get(id), to: after.get(id) }))
    .filter((change) => change.from !== change.to)
}

// Ids and versions come from the provider: shown escaped and clipped, like every provider string.
const shown = (text: string | undefined) => (text === undefined ? "(none)" : printable(text, 128))

/** `SecretProviderClass ns/name rotated: id1: v1 -> v2, id2: (none) -> v1`, cut to the Event size limit. */
export const rotationMessage = (spc: ClassRef, changes: ReadonlyArray<ObjectChange>): string =>
  truncateUtf8(
    `SecretProviderClass ${spc.namespace}/${spc.name} rotated: ` +
      changes.map((c) => `${shown(c.id)}: ${shown(c.from)} -> ${shown(c.to)}`).join(", "),
    maxMessageBytes
  )

/**
 * The pod template annotation's value for a restart: sha256 (hex, first 32 digits) of the SPC's namespace/name and
 * the sorted `id=version` of the new versions. Not a time: two nodes seeing the same rotation write the same value,
 * and an unchanged value is no change to the API server.
 */
export const restartDigest = (spc: ClassRef, objects: ReadonlyArray<PodStatusObject>): string => {
  const lines = [...versionsById(objects)].sort(([a], [b]) => byId(a, b)).map(([id, v]) => `${id}=${v}`)
  // JSON keeps the fields apart whatever characters an id or version holds.
  const text = JSON.stringify([`${spc.namespace}/${spc.name}`, ...lines])
  return createHash("sha256").update(text).digest("hex").slice(0, 32)
}

/** Whether the class opts in: the annotation set to "true" (any case, as Kubernetes reads boolean annotations). */
export const restartsOnRotation = (annotations: Readonly<Record<string, string>> | undefined): boolean =>
  annotations?.[restartOnRotationAnnotation]?.trim().toLowerCase() === "true"
