// The one error family of secret sync: why one SecretProviderClassPodStatus could not be turned into Secrets.
// The reason comes from the closed set (it becomes the Warning Event's context and the failure callback's reason);
// messages name the namespace/object and the key, never a file's contents.
import * as Schema from "effect/Schema"
import { FailureReason } from "../domain/FailureReason.js"

export class SecretSyncError extends Schema.TaggedError<SecretSyncError>()("SecretSyncError", {
  reason: FailureReason.pick(["InvalidRequest", "InvalidSecretProviderClass", "KubernetesApiError"]),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** A secretObjects entry (or the file it names) that cannot become a Secret: fixed only by changing the SPC. */
export const invalidSecretObject = (message: string, cause?: unknown): SecretSyncError =>
  new SecretSyncError({
    reason: "InvalidSecretProviderClass",
    message,
    ...(cause === undefined ? {} : { cause })
  })
