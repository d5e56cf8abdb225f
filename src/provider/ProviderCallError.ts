// The one error family of the provider client: every way a provider call can fail, each with its
// reason from the closed set. Messages name the provider and the gRPC status, never request or
// response contents.
import * as Schema from "effect/Schema"
import { ClientError, Status } from "nice-grpc"
import { FailureReason } from "../domain/FailureReason.js"
import { MAX_CODE_CHARS, MAX_DETAILS_CHARS, printable } from "./ProviderText.js"

const ProviderCallReason = FailureReason.pick([
  "ProviderNotFound",
  "ProviderUnavailable",
  "ProviderTimeout",
  "ProviderError",
  "InvalidProviderResponse"
])

export class ProviderCallError extends Schema.TaggedError<ProviderCallError>()("ProviderCallError", {
  reason: ProviderCallReason,
  message: Schema.String,
  provider: Schema.String,
  /** The provider's own `MountResponse.error.code`, when it sent one, clipped and escaped (see ProviderText). */
  providerCode: Schema.optional(Schema.String),
  /** The gRPC status name (e.g. `INTERNAL`) when the call itself failed. */
  grpcStatus: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect())
}) {}

export const isUnavailable = (error: ProviderCallError): boolean => error.reason === "ProviderUnavailable"

const quoteProvider = (provider: string): string => JSON.stringify(provider)

export const providerNotFound = (provider: string): ProviderCallError =>
  new ProviderCallError({
    reason: "ProviderNotFound",
    provider,
    message: `provider not found: provider ${quoteProvider(provider)}`
  })

export const invalidProviderName = (provider: string): ProviderCallError =>
  new ProviderCallError({
    reason: "ProviderNotFound",
    provider,
    message: `invalid provider name ${quoteProvider(provider)}: must match ^[a-zA-Z0-9_-]{0,30}$`
  })

export const providerTimeout = (provider: string, after: string): ProviderCallError =>
  new ProviderCallError({
    reason: "ProviderTimeout",
    provider,
    message: `provider ${quoteProvider(provider)} did not answer within ${after}`
  })

export const providerErrorCode = (provider: string, code: string): ProviderCallError => {
  const shown = printable(code, MAX_CODE_CHARS)
  return new ProviderCallError({
    reason: "ProviderError",
    provider,
    providerCode: shown,
    message: `provider ${quoteProvider(provider)}: mount request failed with provider error code ${shown}`
  })
}

export const missingObjectVersions = (provider: string): ProviderCallError =>
  new ProviderCallError({
    reason: "InvalidProviderResponse",
    provider,
    message: `provider ${quoteProvider(provider)}: missing object versions`
  })

export const tooManyFiles = (provider: string, count: number, limit: number): ProviderCallError =>
  new ProviderCallError({
    reason: "InvalidProviderResponse",
    provider,
    message:
      `provider ${quoteProvider(provider)}: response holds ${count} files, more than the ${limit} ` +
      `--max-provider-files allows; nothing was written`
  })

export const pathNotUtf8 = (provider: string, index: number): ProviderCallError =>
  new ProviderCallError({
    reason: "InvalidProviderResponse",
    provider,
    message:
      `provider ${quoteProvider(provider)}: the path of file ${index} (counting from 0) is not valid UTF-8; ` +
      `nothing was written`
  })

/** The gRPC library's wording, and Go's ("grpc: received message larger than max"). */
export const isMessageTooLarge = (error: ProviderCallError): boolean =>
  error.grpcStatus === "RESOURCE_EXHAUSTED" && /received message larger than max/i.test(error.message)

export const MESSAGE_TOO_LARGE_HINT = "raise --max-call-recv-msg-size to accept larger provider responses"

// A provider's status details are its own words: clipped and escaped so it can neither flood nor forge log lines.
const clip = (details: string): string => printable(details, MAX_DETAILS_CHARS)

const fromClientError = (provider: string, error: ClientError): ProviderCallError => {
  const grpcStatus = Status[error.code] ?? String(error.code)
  const base = `provider ${quoteProvider(provider)}: ${grpcStatus}: ${clip(error.details)}`
  const tooLarge = error.code === Status.RESOURCE_EXHAUSTED && /received message larger than max/i.test(error.details)
  return new ProviderCallError({
    reason: error.code === Status.UNAVAILABLE ? "ProviderUnavailable" : "ProviderError",
    provider,
    grpcStatus,
    message: tooLarge ? `${base} (${MESSAGE_TOO_LARGE_HINT})` : base,
    cause: error
  })
}

const describeCause = (cause: unknown): string => clip(cause instanceof Error ? cause.message : String(cause))

/** Any rejection of a nice-grpc call, as a typed failure. */
export const fromCallFailure = (provider: string, cause: unknown): ProviderCallError =>
  cause instanceof ClientError
    ? fromClientError(provider, cause)
    : new ProviderCallError({
        reason: "ProviderError",
        provider,
        message: `provider ${quoteProvider(provider)}: call failed: ${describeCause(cause)}`,
        cause
      })
