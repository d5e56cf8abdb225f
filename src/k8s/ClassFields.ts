// What the driver keeps of a SecretProviderClass (the fields its readers use) and what keeping it costs. The same
// projection serves the cache and a GET, so a cached hit and a fresh read return the same value.
import { decodeSecretProviderClass } from "../domain/SecretProviderClass.js"

type Json = Record<string, unknown>

const isRecord = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Only these keys of an object; anything that is not an object passes through unchanged, so the decoder still
 * refuses it (a projection must never turn a malformed object into a valid one).
 */
const pick = (u: unknown, keys: ReadonlyArray<string>): unknown => {
  if (!isRecord(u)) return u
  const out: Json = {}
  for (const k of keys) if (Object.hasOwn(u, k)) out[k] = u[k]
  return out
}

/** The prefix of the annotations the driver itself reads (restart on rotation, node cache staleness). */
export const driverAnnotationPrefix = "secrets-store.csi.k8s.io/"

/** Only the annotations under the driver's prefix: kubectl's last-applied-configuration would double an object. */
const driverAnnotations = (u: unknown): unknown => {
  if (!isRecord(u)) return u
  const out: Json = {}
  for (const [k, v] of Object.entries(u)) if (k.startsWith(driverAnnotationPrefix)) out[k] = v
  return out
}

/**
 * The publisher reads spec.provider and spec.parameters, secret sync spec.secretObjects and metadata
 * name/namespace; resourceVersion and uid identify the version read, generation the version of the spec. Of the
 * annotations only the driver's own are kept; labels, managedFields and status are never read, so never kept.
 */
export const keptFields = (raw: unknown): unknown => {
  if (!isRecord(raw)) return raw
  const out: Json = {}
  if (Object.hasOwn(raw, "apiVersion")) out["apiVersion"] = raw["apiVersion"]
  if (Object.hasOwn(raw, "kind")) out["kind"] = raw["kind"]
  if (Object.hasOwn(raw, "metadata")) {
    const metadata = pick(raw["metadata"], ["name", "namespace", "resourceVersion", "uid", "generation"])
    if (isRecord(metadata) && isRecord(raw["metadata"]) && Object.hasOwn(raw["metadata"], "annotations")) {
      const annotations = driverAnnotations(raw["metadata"]["annotations"])
      if (!isRecord(annotations) || Object.keys(annotations).length > 0) metadata["annotations"] = annotations
    }
    out["metadata"] = metadata
  }
  if (Object.hasOwn(raw, "spec")) out["spec"] = pick(raw["spec"], ["provider", "parameters", "secretObjects"])
  return out
}

/** The kept fields of a raw object, decoded (leniently, as SecretProviderClass decodes). */
export const decodeKept = (raw: unknown) => decodeSecretProviderClass(keptFields(raw))

// What V8 spends beyond the characters: a string's header and its slot, an object's or array's header. JSON text
// does not show them, and they dominate a map of many short entries (decoded classes of many one-letter
// parameters hold 5.3 times their JSON size; of one long string, 1.0 times). With these figures the estimate
// stayed at 1.0 to 6.4 times the measured heap of every shape tried (Node 24, --jitless), never below it.
const stringOverhead = 40
const containerOverhead = 48
const scalarCost = 16

/**
 * An upper estimate of the heap a decoded value holds: its strings' UTF-8 bytes (never less than its JSON size)
 * plus the overheads above. Counting stops as soon as it passes `limit` (the result is then > limit), so an
 * oversized object costs only as much walking as the limit allows.
 */
export const estimatedSize = (u: unknown, limit: number): number => {
  let total = 0
  const walk = (v: unknown): void => {
    if (total > limit) return
    if (typeof v === "string") total += Buffer.byteLength(v, "utf8") + stringOverhead
    else if (Array.isArray(v)) {
      total += containerOverhead
      for (const x of v) {
        if (total > limit) return
        walk(x)
      }
    } else if (isRecord(v)) {
      total += containerOverhead
      for (const k of Object.keys(v)) {
        if (total > limit) return
        total += Buffer.byteLength(k, "utf8") + stringOverhead
        walk(v[k])
      }
    } else total += scalarCost
  }
  walk(u)
  return total
}
