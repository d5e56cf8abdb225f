// The one failure family of the sync controller: why one SecretSync could not be synced. `reason` is the typed
// FailureReason (metrics' error_type, the message's lead); `condition` is the condition reason upstream's newer
// condition scheme uses for the same step, so tooling that reads SecretSync conditions keeps matching.
import * as Schema from "effect/Schema"
import { FailureReason } from "../domain/FailureReason.js"

export const ConditionReason = Schema.Literals([
  "InvalidClusterSecretLabelError",
  "InvalidClusterSecretAnnotationError",
  "SecretProviderClassMisconfigured",
  "ControllerSyncError",
  "ProviderError",
  "RemoteSecretStoreFetchFailed",
  "ControllerPatchError",
  // New: a Secret type the controller never writes (kubernetes.io/service-account-token).
  "SecretTypeNotAllowed"
])
export type ConditionReason = typeof ConditionReason.Type

export class SecretSyncFailure extends Schema.TaggedError<SecretSyncFailure>()("SecretSyncFailure", {
  reason: FailureReason,
  condition: ConditionReason,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

export const syncFailure = (reason: FailureReason, condition: ConditionReason, message: string, cause?: unknown) =>
  new SecretSyncFailure({ reason, condition, message, ...(cause === undefined ? {} : { cause }) })

/** From another module's typed error (provider client, Kubernetes), keeping its reason and message. */
export const fromTyped =
  (condition: ConditionReason) => (error: { readonly reason: FailureReason; readonly message: string }) =>
    syncFailure(error.reason, condition, error.message, error)
