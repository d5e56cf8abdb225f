// Turning what the API server (or the network) said into KubernetesError values: the Status body of a failed call,
// an ERROR watch event, a transport failure. Only the API server's own Status message is quoted, never a body.
import * as Effect from "effect/Effect"
import { KubernetesError } from "./KubernetesError.js"

export interface WatchEvent {
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK"
  readonly object: unknown
}

interface StatusBody {
  readonly message?: unknown
  readonly reason?: unknown
  readonly code?: unknown
}

// A Status message is short; a misbehaving proxy could answer anything.
const maxDetail = 1024
const clip = (s: string) => (s.length > maxDetail ? `${s.slice(0, maxDetail)}...` : s)

const asStatus = (u: unknown): StatusBody | undefined =>
  typeof u === "object" && u !== null && (u as { kind?: unknown }).kind === "Status" ? (u as StatusBody) : undefined

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const statusError = (description: string, code: number, status: StatusBody | undefined): KubernetesError => {
  const message =
    typeof status?.message === "string" && status.message !== ""
      ? clip(status.message)
      : `the server responded with HTTP ${code}`
  const statusReason = typeof status?.reason === "string" && status.reason !== "" ? status.reason : undefined
  return new KubernetesError({
    reason: "KubernetesApiError",
    message: `failed to ${description}, error: ${message}`,
    status: code,
    ...(statusReason === undefined ? {} : { statusReason })
  })
}

/** A non-2xx answer; `text` is the response body, read only for a Status object. */
export const unexpectedStatus = (description: string, code: number, text: string): KubernetesError =>
  statusError(description, code, asStatus(parseJson(text)))

const watchTypes = new Set(["ADDED", "MODIFIED", "DELETED", "BOOKMARK"])

/** One line of a watch stream; an ERROR event (e.g. 410 Expired) fails with the Status it carries. */
export const parseWatchLine = (description: string, line: string): Effect.Effect<WatchEvent, KubernetesError> => {
  const event = parseJson(line) as { type?: unknown; object?: unknown } | undefined
  if (event?.type === "ERROR") {
    const status = asStatus(event.object)
    return Effect.fail(statusError(description, typeof status?.code === "number" ? status.code : 500, status))
  }
  if (typeof event?.type === "string" && watchTypes.has(event.type)) {
    return Effect.succeed({ type: event.type as WatchEvent["type"], object: event.object })
  }
  return Effect.fail(
    new KubernetesError({
      reason: "KubernetesApiError",
      message: `failed to ${description}, error: malformed watch event`
    })
  )
}

// node reports a failed connect to every address of a name (happy eyeballs) as an AggregateError without a message.
const messageOf = (e: Error): string =>
  e instanceof AggregateError && e.message === ""
    ? e.errors.map((x: unknown) => (x instanceof Error ? x.message : String(x))).join(", ")
    : e.message

/** "connect ECONNREFUSED 127.0.0.1:6443", followed by the messages of nested causes (a TLS error's, an abort's). */
export const transportDetail = (cause: unknown): string => {
  const parts: Array<string> = []
  let current: unknown = cause
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error) parts.push(messageOf(current))
    else if (typeof current === "string") parts.push(current)
    current = typeof current === "object" ? (current as { cause?: unknown }).cause : undefined
  }
  return clip(parts.filter((p) => p !== "").join(": ") || String(cause))
}

export type Json = Record<string, unknown>

/** A JSON object from an API body, or an empty one for anything else (never throws on odd shapes). */
export const asRecord = (u: unknown): Json =>
  typeof u === "object" && u !== null && !Array.isArray(u) ? (u as Json) : {}
