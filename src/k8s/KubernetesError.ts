// The one error family of the k8s module: every failed API call (no config, unreachable, timeout, a Status
// response) becomes a KubernetesError naming the object; the response body of a request is never put in it.
import * as Schema from "effect/Schema"
import { FailureReason } from "../domain/FailureReason.js"

export class KubernetesError extends Schema.TaggedError<KubernetesError>()("KubernetesError", {
  reason: FailureReason.pick(["KubernetesApiError", "SecretProviderClassNotFound"]),
  message: Schema.String,
  /** HTTP status when the API server answered. */
  status: Schema.optional(Schema.Number),
  /** The `reason` of the API server's Status body (NotFound, AlreadyExists, Conflict, Expired, ...). */
  statusReason: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect())
}) {}

const isStatus = (e: KubernetesError, status: number, statusReason?: string): boolean =>
  e.status === status && (statusReason === undefined || e.statusReason === statusReason)

export const isNotFound = (e: KubernetesError): boolean => isStatus(e, 404)
export const isAlreadyExists = (e: KubernetesError): boolean => isStatus(e, 409, "AlreadyExists")
/** A 409 that is not AlreadyExists is an optimistic-concurrency conflict. */
export const isConflict = (e: KubernetesError): boolean => isStatus(e, 409) && e.statusReason !== "AlreadyExists"
