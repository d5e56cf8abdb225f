// The closed set of reasons a request can fail for (docs/contract.md#typed-failure-reasons). Every typed error in the
// driver carries one; csi/toStatus.ts maps it to a gRPC code, metrics use it as `error_type`,
// and Warning Events on the pod use it as their reason.
import * as Schema from "effect/Schema"

export const FailureReason = Schema.Literals([
  "InvalidRequest",
  "SecretProviderClassNotFound",
  "InvalidSecretProviderClass",
  "ProviderNotFound",
  "ProviderUnavailable",
  "ProviderTimeout",
  "ProviderError",
  "InvalidProviderResponse",
  "FileWriteError",
  "MountFailed",
  "KubernetesApiError",
  // A defect (a bug in the driver), never an expected failure; only the masked republish reports it as a reason.
  "InternalError"
])
export type FailureReason = typeof FailureReason.Type

/** What every expected failure of the driver looks like to the CSI edge. */
export interface TypedFailure {
  readonly reason: FailureReason
  readonly message: string
}

export const isTypedFailure = (u: unknown): u is TypedFailure =>
  typeof u === "object" &&
  u !== null &&
  "reason" in u &&
  "message" in u &&
  (FailureReason.literals as ReadonlyArray<unknown>).includes((u as { reason: unknown }).reason)
