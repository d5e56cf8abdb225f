// The one map from failure reasons to gRPC status codes (docs/contract.md#typed-failure-reasons). Nothing else in the
// driver picks a code. Codes keep upstream's final/non-final split for kubelet where upstream
// was deliberate, and are more precise where upstream answered a blanket `Unknown`.
import { ServerError, Status } from "nice-grpc"
import type { FailureReason, TypedFailure } from "../domain/FailureReason.js"

export const reasonToCode: { readonly [R in FailureReason]: Status } = {
  InvalidRequest: Status.INVALID_ARGUMENT,
  SecretProviderClassNotFound: Status.NOT_FOUND,
  InvalidSecretProviderClass: Status.FAILED_PRECONDITION,
  ProviderNotFound: Status.FAILED_PRECONDITION,
  ProviderUnavailable: Status.UNAVAILABLE,
  ProviderTimeout: Status.DEADLINE_EXCEEDED,
  ProviderError: Status.UNKNOWN,
  InvalidProviderResponse: Status.INTERNAL,
  FileWriteError: Status.INTERNAL,
  MountFailed: Status.INTERNAL,
  KubernetesApiError: Status.UNAVAILABLE,
  InternalError: Status.INTERNAL
}

/** The status kubelet sees: the reason leads the message so `kubectl describe pod` shows it. */
export const toServerError = (failure: TypedFailure): ServerError =>
  new ServerError(reasonToCode[failure.reason], `${failure.reason}: ${failure.message}`)

/** A defect is a bug, not a user error: kubelet gets INTERNAL with no internals in the text. */
export const defectToServerError = (method: string): ServerError =>
  new ServerError(Status.INTERNAL, `internal error in ${method}; see the driver's log`)

export const unimplemented = (method: string): ServerError =>
  new ServerError(Status.UNIMPLEMENTED, `${method} is not implemented`)
