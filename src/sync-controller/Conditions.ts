// The SecretSync's conditions, upstream's newer scheme: `SecretCreated` and `SecretUpdated`, each True, False or
// Unknown with upstream's reasons. Pure. Unlike upstream, a success always sets the condition it concerns back to
// True (upstream leaves a stale False after a retry that finds the hash unchanged), and a failure's message holds
// the typed reason and the detail (never a secret value), not a fixed sentence.
import type { Condition } from "../domain/SecretSync.js"
import type { FailureReason } from "../domain/FailureReason.js"
import type { ConditionReason } from "./SyncFailure.js"

export const SECRET_CREATED = "SecretCreated"
export const SECRET_UPDATED = "SecretUpdated"
export const CREATED_MESSAGE = "Secret created successfully."
export const UP_TO_DATE_MESSAGE = "Secret contains last observed values."
/** The API server allows 32 KiB; a condition is read by people, so a detail this long is cut. */
export const MAX_MESSAGE_CHARS = 1024

export type SyncOutcome =
  | { readonly _tag: "Synced" }
  | {
      readonly _tag: "Failed"
      readonly reason: FailureReason
      readonly condition: ConditionReason
      readonly message: string
    }

export interface Stamp {
  /** RFC 3339, second precision. */
  readonly now: string
  readonly generation: number
}

const clip = (text: string) => (text.length <= MAX_MESSAGE_CHARS ? text : `${text.slice(0, MAX_MESSAGE_CHARS - 3)}...`)

type Wanted = Pick<Condition, "type" | "status" | "reason" | "message">

/** metav1 semantics: lastTransitionTime moves only when the status does. */
const put = (conditions: ReadonlyArray<Condition>, wanted: Wanted, stamp: Stamp): ReadonlyArray<Condition> => {
  const existing = conditions.find((c) => c.type === wanted.type)
  const lastTransitionTime =
    existing !== undefined && existing.status === wanted.status ? existing.lastTransitionTime : stamp.now
  const next: Condition = { ...wanted, lastTransitionTime, observedGeneration: stamp.generation }
  return existing === undefined ? [...conditions, next] : conditions.map((c) => (c.type === wanted.type ? next : c))
}

/** Upstream's first step: both conditions exist before anything is attempted. */
export const initialConditions = (conditions: ReadonlyArray<Condition>, stamp: Stamp): ReadonlyArray<Condition> => {
  let out = conditions
  if (!out.some((c) => c.type === SECRET_CREATED)) {
    out = put(out, { type: SECRET_CREATED, status: "Unknown", reason: "SyncStarting", message: "" }, stamp)
  }
  if (!out.some((c) => c.type === SECRET_UPDATED)) {
    out = put(out, { type: SECRET_UPDATED, status: "Unknown", reason: "NoUpdatesAttemptedYet", message: "" }, stamp)
  }
  return out
}

/** Whether the Secret was ever created by this SecretSync (the condition persists across restarts). */
export const wasCreated = (conditions: ReadonlyArray<Condition>): boolean =>
  conditions.some((c) => c.type === SECRET_CREATED && c.status === "True")

export const nextConditions = (
  conditions: ReadonlyArray<Condition>,
  outcome: SyncOutcome,
  stamp: Stamp
): ReadonlyArray<Condition> => {
  const start = initialConditions(conditions, stamp)
  const created = wasCreated(start)
  if (outcome._tag === "Synced") {
    const withCreated = created
      ? start
      : put(
          start,
          { type: SECRET_CREATED, status: "True", reason: "CreateSuccessful", message: CREATED_MESSAGE },
          stamp
        )
    return put(
      withCreated,
      {
        type: SECRET_UPDATED,
        status: "True",
        reason: "SecretUpToDate",
        message: UP_TO_DATE_MESSAGE
      },
      stamp
    )
  }
  const type = created ? SECRET_UPDATED : SECRET_CREATED
  return put(
    start,
    {
      type,
      status: "False",
      reason: outcome.condition,
      message: clip(`${outcome.reason}: ${outcome.message}`)
    },
    stamp
  )
}

/** Equal for status purposes (the order and every field). */
export const sameConditions = (a: ReadonlyArray<Condition>, b: ReadonlyArray<Condition>): boolean => {
  const norm = (cs: ReadonlyArray<Condition>) =>
    JSON.stringify(cs.map((c) => [c.type, c.status, c.reason, c.message, c.lastTransitionTime, c.observedGeneration]))
  return norm(a) === norm(b)
}
