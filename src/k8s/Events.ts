// Warning Events on the pod (docs/contract.md#typed-failure-reasons, docs/upstream.md#secret-sync-failures), fire and
// forget: `warning` only rate-limits and enqueues, so a slow API server never slows or fails a publish; a fiber of
// the layer's scope creates the core v1 Events, and the layer's close flushes what is left for at most 2 s.
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Cause from "effect/Cause"
import { defaultRateLimit, EventRateLimit, rateLimitKey } from "./EventRateLimit.js"
import { KubeApi } from "./KubeApi.js"
import type { KubernetesError } from "./KubernetesError.js"

export interface PodRef {
  readonly name: string
  readonly namespace: string
  readonly uid: string
}

export interface WarningInput {
  readonly pod: PodRef
  /** A FailureReason, or upstream's FailedToCreateSecret for secret sync. */
  readonly reason: string
  /** Built by the caller: names the object, never holds a secret value. */
  readonly message: string
  /** `source.component`; defaults to `secrets-store-csi-driver`. */
  readonly component?: string
  /** The involved object's kind and apiVersion when it is not a Pod (the sync controller's SecretSync). */
  readonly involvedKind?: { readonly kind: string; readonly apiVersion: string }
  /** The Event's type; default Warning. Normal only for news that is not a failure (a rotation). */
  readonly type?: EventType
}

export type EventType = "Normal" | "Warning"

export interface EventsShape {
  /** Never fails, never waits on the API server. */
  readonly warning: (input: WarningInput) => Effect.Effect<void>
}

export interface EventsOptions {
  /** `--nodeid`: the event's `reportingInstance` and `source.host`. */
  readonly nodeId: string
  /** Events one (pod, reason) may send at once; default 5. */
  readonly burst?: number
  /** One more event per this; default 1 minute. */
  readonly refillEvery?: Duration.Input
  /** Events waiting for the API server; beyond it new ones are dropped. Default 1,000. */
  readonly queueCapacity?: number
}

const defaultComponent = "secrets-store-csi-driver"
/** The API server refuses longer event messages. */
export const maxMessageBytes = 1024
const flushDeadline = Duration.seconds(2)

/** At most `maxBytes` of UTF-8, cut on a character boundary. */
export const truncateUtf8 = (text: string, maxBytes: number): string => {
  const bytes = Buffer.from(text, "utf8")
  if (bytes.length <= maxBytes) return text
  let cut = Math.max(0, maxBytes)
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--
  return bytes.subarray(0, cut).toString("utf8")
}

/** The message as sent: the caller's, cut to the API limit, plus the count of events suppressed before it. */
export const eventMessage = (message: string, suppressed: number): string => {
  const note = suppressed === 0 ? "" : ` (${suppressed} similar event${suppressed === 1 ? "" : "s"} suppressed)`
  return truncateUtf8(message, maxMessageBytes - Buffer.byteLength(note)) + note
}

/** client-go's `<object>.<hex of UnixNano>`; the sub-millisecond digits carry a counter so names never collide. */
export const eventName = (podName: string, millis: number, counter: number): string => {
  const hex = (BigInt(millis) * 1_000_000n + BigInt(counter % 1_000_000)).toString(16)
  return `${podName.slice(0, 252 - hex.length)}.${hex}`
}

// metav1.Time: RFC 3339 with second precision.
const timestamp = (millis: number) => new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z")

const eventObject = (input: WarningInput, meta: { nodeId: string; name: string; millis: number; message: string }) => {
  const component = input.component ?? defaultComponent
  const { name, namespace, uid } = input.pod
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: meta.name, namespace },
    involvedObject: {
      kind: input.involvedKind?.kind ?? "Pod",
      namespace,
      name,
      uid,
      apiVersion: input.involvedKind?.apiVersion ?? "v1"
    },
    reason: input.reason,
    message: meta.message,
    type: input.type ?? "Warning",
    source: { component, host: meta.nodeId },
    firstTimestamp: timestamp(meta.millis),
    lastTimestamp: timestamp(meta.millis),
    count: 1,
    reportingComponent: component,
    reportingInstance: meta.nodeId
  }
}
type CoreEvent = ReturnType<typeof eventObject>

export const eventsPath = (namespace: string) => `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`

// Only the event's reason and object are logged: never its message, never the API server's answer.
const failureDetail = (exit: Exit.Exit<unknown, KubernetesError>) => {
  const error = Exit.findErrorOption(exit)
  return Option.isSome(error)
    ? { status: error.value.status, statusReason: error.value.statusReason }
    : { defect: true }
}

const makeSender = Effect.fnUntraced(function* () {
  const api = yield* KubeApi
  return Effect.fnUntraced(function* (event: CoreEvent) {
    const { namespace, name } = event.involvedObject
    const exit = yield* Effect.exit(
      api.request({
        method: "POST",
        path: eventsPath(namespace),
        body: event,
        description: `create event ${namespace}/${event.metadata.name}`
      })
    )
    if (Exit.isFailure(exit)) {
      const object = `${event.involvedObject.kind.toLowerCase()} ${namespace}/${name}`
      yield* Effect.logWarning("could not create event", { reason: event.reason, object, ...failureDetail(exit) })
    }
  })
})

/** Drop-and-count when the queue is full, logging once per episode rather than once per event. */
const makeOverflow = () => {
  let dropped = 0
  return (accepted: boolean) => {
    if (!accepted) {
      dropped++
      return dropped === 1 ? Effect.logWarning("event queue is full: dropping events") : Effect.void
    }
    if (dropped === 0) return Effect.void
    const total = dropped
    dropped = 0
    return Effect.logWarning("event queue has room again", { dropped: total })
  }
}

const makeLive = Effect.fnUntraced(function* (options: EventsOptions) {
  const limiter = new EventRateLimit({
    burst: options.burst ?? defaultRateLimit.burst,
    refillMillis:
      options.refillEvery === undefined ? defaultRateLimit.refillMillis : Duration.toMillis(options.refillEvery)
  })
  const queue = yield* Queue.dropping<CoreEvent, Cause.Done>(options.queueCapacity ?? 1_000)
  const send = yield* makeSender()
  const overflow = makeOverflow()
  let counter = 0

  const worker = yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(queue), send)))
  // Runs before the fork's own finalizer (which interrupts the worker, aborting a request still in flight).
  yield* Effect.addFinalizer(() =>
    Effect.gen(function* () {
      yield* Queue.end(queue)
      const finished = yield* Effect.timeoutOption(Fiber.await(worker), flushDeadline)
      if (Option.isNone(finished)) {
        yield* Effect.logWarning("events not flushed in time", { pending: yield* Queue.size(queue) })
      }
    })
  )

  const warning = Effect.fn("Events.warning")(function* (input: WarningInput) {
    // Without podInfoOnMount there is no pod to attach an event to.
    if (input.pod.namespace === "" || input.pod.name === "") return
    const millis = yield* Clock.currentTimeMillis
    const admission = limiter.admit(rateLimitKey(input.pod, input.reason), millis)
    if (admission._tag === "Suppress") return
    const name = eventName(input.pod.name, millis, counter++)
    const message = eventMessage(input.message, admission.suppressed)
    yield* Effect.flatMap(
      Queue.offer(queue, eventObject(input, { nodeId: options.nodeId, name, millis, message })),
      overflow
    )
  })
  return Events.of({ warning })
})

export interface RecordedWarning {
  readonly pod: PodRef
  readonly reason: string
  readonly message: string
  readonly component: string
  readonly type: EventType
}

/** Test handle of the in-memory layer: every warning as asked for (no rate limit, no truncation). */
export class EventsInMemory extends Context.Service<
  EventsInMemory,
  {
    readonly list: Effect.Effect<ReadonlyArray<RecordedWarning>>
  }
>()("EventsInMemory") {}

const makeInMemory = Effect.gen(function* () {
  const recorded = yield* Ref.make<ReadonlyArray<RecordedWarning>>([])
  const warning = Effect.fn("Events.warning")(function* (input: WarningInput) {
    const entry = {
      pod: input.pod,
      reason: input.reason,
      message: input.message,
      component: input.component ?? defaultComponent,
      type: input.type ?? "Warning"
    }
    yield* Ref.update(recorded, (all) => [...all, entry])
  })
  return Context.make(Events, Events.of({ warning })).pipe(
    Context.add(EventsInMemory, EventsInMemory.of({ list: Ref.get(recorded) }))
  )
})

export class Events extends Context.Service<Events, EventsShape>()("Events") {
  static readonly layer = (options: EventsOptions): Layer.Layer<Events, never, KubeApi> =>
    Layer.effect(Events, makeLive(options))
  static readonly layerInMemory: Layer.Layer<Events | EventsInMemory> = Layer.effectContext(makeInMemory)
}
