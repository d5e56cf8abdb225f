// The request log of the CSI server: each call at verbosity 5 with its sanitized request, and
// every failure with its code. Secrets never reach it: the `secrets` map is dropped and the
// service-account tokens in the volume context are replaced (CVE-2023-2878; docs/contract.md#no-secrets-in-logs).
import * as Effect from "effect/Effect"
import { ServerError, Status, type CallContext, type ServerMiddlewareCall } from "nice-grpc"
import { logV } from "../config/Logging.js"
import { TOKENS_KEY } from "../domain/VolumeContext.js"

const STRIPPED = "***stripped***"

/** A copy of a CSI request that is safe to print. */
export const sanitizeRequest = (request: unknown): unknown => {
  if (typeof request !== "object" || request === null) return request
  const copy: Record<string, unknown> = { ...(request as Record<string, unknown>) }
  if ("secrets" in copy) copy["secrets"] = STRIPPED
  const context = copy["volumeContext"]
  if (typeof context === "object" && context !== null && TOKENS_KEY in context) {
    copy["volumeContext"] = { ...(context as Record<string, string>), [TOKENS_KEY]: STRIPPED }
  }
  return copy
}

const printable = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v))

const statusName = (error: unknown): string =>
  error instanceof ServerError
    ? Status[error.code]
    : error instanceof Error && error.name === "AbortError"
      ? "CANCELLED"
      : "INTERNAL"

// Upstream logs each call and its response at klog verbosity 5.
const CALL_LOG_LEVEL = 5

/** The volume a call is about, so its two lines can be found by target as well as by request id. */
const subjectOf = (request: unknown): { readonly target: string; readonly volumeId: string } => {
  const fields = typeof request === "object" && request !== null ? (request as Record<string, unknown>) : {}
  const text = (key: string) => (typeof fields[key] === "string" ? (fields[key] as string) : "")
  return { target: text("targetPath") || text("volumePath"), volumeId: text("volumeId") }
}

/**
 * Builds the middleware; `fork` runs a log effect in the driver's context (logger, verbosity). Below verbosity 5
 * the request is neither serialized nor forked into a log fiber: this runs on every kubelet call.
 */
export const makeRequestLog = (fork: (effect: Effect.Effect<void>) => void, verbosity: number) => {
  const logCalls = verbosity >= CALL_LOG_LEVEL
  let calls = 0
  return async function* requestLog<Request, Response>(
    call: ServerMiddlewareCall<Request, Response>,
    context: CallContext
  ): AsyncGenerator<Response, Response | void, undefined> {
    const method = call.method.path
    const started = performance.now()
    // The request id and the subject exist only at -v=5: below it a call allocates nothing for its log.
    const requestId = logCalls ? ++calls : 0
    const subject = logCalls ? subjectOf(call.request) : undefined
    if (logCalls) {
      const request = printable(sanitizeRequest(call.request))
      fork(logV(CALL_LOG_LEVEL, "GRPC call", { method, requestId, ...subject, request }))
    }
    try {
      const response = yield* call.next(call.request, context)
      if (logCalls) {
        const durationMs = Math.round((performance.now() - started) * 10) / 10
        fork(
          logV(CALL_LOG_LEVEL, "GRPC response", {
            method,
            requestId,
            ...subject,
            durationMs,
            response: printable(response)
          })
        )
      }
      return response
    } catch (error) {
      const details = error instanceof ServerError ? error.details : "internal error"
      fork(
        Effect.logError("GRPC error", {
          method,
          ...(subject ?? subjectOf(call.request)),
          ...(logCalls ? { requestId } : undefined),
          code: statusName(error),
          details
        })
      )
      throw error
    }
  }
}
