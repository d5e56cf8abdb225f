// Events.layer against the fake API server (the Event object, rate limit, failures, slowness, queue overflow, flush
// on close), the pure message/name helpers, and the in-memory layer.
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { TestClock } from "effect/testing"
import {
  eventMessage,
  eventName,
  Events,
  EventsInMemory,
  type EventsOptions,
  eventsPath,
  maxMessageBytes,
  truncateUtf8,
  type WarningInput
} from "../../src/k8s/Events.js"
import { KubeApi } from "../../src/k8s/KubeApi.js"
import { fakeApiServer, type FakeApiServer, type KubeObject } from "../support/FakeApiServer.js"
import { resources } from "../support/FakeApiStore.js"

const eventsResource = resources.find((r) => r.plural === "events")!
const pod = (name: string) => ({ name, namespace: "ns1", uid: `uid-${name}` })
const warningFor = (name: string, reason = "ProviderError", message = `failed to mount ns1/${name}`): WarningInput => ({
  pod: pod(name),
  reason,
  message
})
const stored = (server: FakeApiServer): Array<KubeObject & Record<string, any>> =>
  server.store.list(eventsResource, "ns1")

const capturedLogs = () => {
  const lines: Array<string> = []
  const layer = Logger.layer([
    Logger.make((o) => void lines.push(`${String(o.logLevel)}: ${JSON.stringify(o.message)}`))
  ])
  return { lines, layer }
}

/** Runs `body` with a live Events layer on the fake API server; the layer is closed (flushed) when this returns. */
const withEvents = <A, E>(
  server: FakeApiServer,
  options: Partial<EventsOptions>,
  body: (events: Events["Service"]) => Effect.Effect<A, E>
) =>
  Effect.gen(function* () {
    return yield* body(yield* Events)
  }).pipe(
    Effect.provide(
      Events.layer({ nodeId: "node-a", refillEvery: "1 hour", ...options }).pipe(
        Layer.provide(KubeApi.layer({ kubeconfig: server.kubeconfigPath })),
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({})))
      )
    )
  )

/** Polls in real time (the TestClock does not move by itself) until `count` Events are stored. */
const untilStored = (server: FakeApiServer, count: number) =>
  Effect.promise(async () => {
    const deadline = Date.now() + 10_000
    while (stored(server).length < count && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10))
  })

const warnAll = (events: Events["Service"], inputs: ReadonlyArray<WarningInput>) =>
  Effect.forEach(inputs, (input) => events.warning(input), { discard: true })

const waitUntil = (check: () => boolean, ms = 5_000): Effect.Effect<void> =>
  Effect.suspend(() =>
    check()
      ? Effect.void
      : ms <= 0
        ? Effect.die(new Error("condition not met in time"))
        : Effect.andThen(Effect.sleep("10 millis"), waitUntil(check, ms - 10))
  )

describe("Events.layer (live, fake API server)", () => {
  it.live("an input of type Normal creates a Normal Event, recorded as such in memory too", () =>
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      const rotated = { ...warningFor("web-0", "SecretRotated", "rotated"), type: "Normal" as const }
      yield* withEvents(server, {}, (events) => Effect.andThen(events.warning(rotated), untilStored(server, 1)))
      assert.deepStrictEqual(
        stored(server).map((e) => [e["type"], e["reason"]]),
        [["Normal", "SecretRotated"]]
      )
      const recorded = yield* Effect.gen(function* () {
        yield* (yield* Events).warning(rotated)
        yield* (yield* Events).warning(warningFor("web-0"))
        return yield* (yield* EventsInMemory).list
      }).pipe(Effect.provide(Events.layerInMemory))
      assert.deepStrictEqual(
        recorded.map((e) => e.type),
        ["Normal", "Warning"]
      )
    })
  )

  it.live("one warning creates exactly one Warning Event on the pod", () =>
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      yield* withEvents(server, {}, (events) =>
        Effect.andThen(
          events.warning(warningFor("web-0", "ProviderTimeout", "timed out ns1/azure")),
          untilStored(server, 1)
        )
      )
      const [event, ...rest] = stored(server)
      assert.strictEqual(rest.length, 0)
      assert.deepStrictEqual(event!["involvedObject"], {
        kind: "Pod",
        namespace: "ns1",
        name: "web-0",
        uid: "uid-web-0",
        apiVersion: "v1"
      })
      assert.strictEqual(event!["type"], "Warning")
      assert.strictEqual(event!["reason"], "ProviderTimeout")
      assert.strictEqual(event!["message"], "timed out ns1/azure")
      assert.deepStrictEqual(event!["source"], { component: "secrets-store-csi-driver", host: "node-a" })
      assert.strictEqual(event!["reportingComponent"], "secrets-store-csi-driver")
      assert.strictEqual(event!["reportingInstance"], "node-a")
      assert.strictEqual(event!["count"], 1)
      assert.match(event!["firstTimestamp"], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      assert.strictEqual(event!["lastTimestamp"], event!["firstTimestamp"])
      assert.match(event!.metadata["name"] as string, /^web-0\.[0-9a-f]+$/)
      assert.deepStrictEqual(
        server.requests.map((r) => `${r.method} ${r.path}`),
        [`POST ${eventsPath("ns1")}`]
      )
    })
  )

  it.live("a caller's component is the source (secret sync's csi-secrets-store-controller)", () =>
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      yield* withEvents(server, {}, (events) =>
        events.warning({ ...warningFor("web-0", "FailedToCreateSecret"), component: "csi-secrets-store-controller" })
      )
      const [event] = stored(server)
      assert.strictEqual(event!["source"].component, "csi-secrets-store-controller")
      assert.strictEqual(event!["reportingComponent"], "csi-secrets-store-controller")
    })
  )

  it.live("100 warnings for one pod and reason send exactly `burst`, with distinct names", () =>
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      yield* withEvents(server, { burst: 5 }, (events) =>
        warnAll(
          events,
          Array.from({ length: 100 }, () => warningFor("web-0"))
        ).pipe(Effect.andThen(untilStored(server, 5)))
      )
      const events = stored(server)
      assert.strictEqual(events.length, 5)
      assert.strictEqual(new Set(events.map((e) => e.metadata["name"])).size, 5)
      assert.strictEqual(server.requestsMatching({ method: "POST" }).length, 5)
    })
  )

  it.effect("after a refill the next event passes and reports how many were suppressed (TestClock)", () =>
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      yield* withEvents(server, { burst: 5, refillEvery: "1 minute" }, (events) =>
        Effect.gen(function* () {
          yield* warnAll(
            events,
            Array.from({ length: 100 }, () => warningFor("web-0"))
          )
          // Moving the TestClock fires the API call deadlines of sends still in flight: let them land first.
          yield* untilStored(server, 5)
          yield* TestClock.adjust("1 minute")
          yield* events.warning(warningFor("web-0"))
          yield* untilStored(server, 6)
          yield* TestClock.adjust("30 seconds")
          yield* events.warning(warningFor("web-0"))
        })
      )
      const events = stored(server).sort((a, b) =>
        String(a["firstTimestamp"]).localeCompare(String(b["firstTimestamp"]))
      )
      assert.strictEqual(events.length, 6)
      assert.strictEqual(events[5]!["message"], "failed to mount ns1/web-0 (95 similar events suppressed)")
      assert.strictEqual(events[5]!["firstTimestamp"], "1970-01-01T00:01:00Z")
      assert.strictEqual(events[0]!["message"], "failed to mount ns1/web-0")
    })
  )

  it.live("pods and reasons are limited separately", () =>
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      yield* withEvents(server, { burst: 3 }, (events) =>
        warnAll(
          events,
          Array.from(
            { length: 10 },
            (_, i) => [warningFor("a"), warningFor("b"), warningFor("a", "MountFailed")][i % 3]!
          ).concat(Array.from({ length: 10 }, () => warningFor("b")))
        ).pipe(Effect.andThen(untilStored(server, 9)))
      )
      const count = (name: string, reason: string) =>
        stored(server).filter((e) => e["involvedObject"].name === name && e["reason"] === reason).length
      assert.deepStrictEqual(
        [count("a", "ProviderError"), count("b", "ProviderError"), count("a", "MountFailed")],
        [3, 3, 3]
      )
    })
  )

  it.live("a 500 fails neither the caller nor the fiber; the log names reason and pod, never the message", () =>
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      const logs = capturedLogs()
      server.failNext({ method: "POST", path: eventsPath("ns1"), status: 500, message: "etcd is sad" })
      yield* withEvents(server, {}, (events) =>
        Effect.gen(function* () {
          yield* events.warning(warningFor("web-0", "ProviderError", "do-not-log-this"))
          yield* events.warning(warningFor("web-0", "MountFailed"))
        })
      ).pipe(Effect.provide(logs.layer))
      assert.deepStrictEqual(
        stored(server).map((e) => e["reason"]),
        ["MountFailed"]
      )
      assert.strictEqual(server.requestsMatching({ method: "POST" }).length, 2)
      const line = logs.lines.find((l) => l.includes("could not create event"))
      assert.isDefined(line)
      assert.include(line, "ProviderError")
      assert.include(line, "pod ns1/web-0")
      assert.include(line, "500")
      assert.notInclude(logs.lines.join("\n"), "do-not-log-this")
      assert.notInclude(logs.lines.join("\n"), "etcd is sad")
    })
  )

  it.live(
    "a slow API server (2 s) does not slow warning",
    () =>
      Effect.gen(function* () {
        const server = yield* fakeApiServer()
        server.delay(2_000, { method: "POST" })
        const took = yield* withEvents(server, {}, (events) =>
          Effect.gen(function* () {
            const start = performance.now()
            yield* events.warning(warningFor("web-0"))
            yield* events.warning(warningFor("web-1"))
            const took = performance.now() - start
            yield* waitUntil(() => stored(server).length === 2, 10_000)
            return took
          })
        )
        // The POSTs take 2 s each: a warning that waited for one would take at least that long.
        assert.isBelow(took, 1_900)
      }),
    20_000
  )

  it.live("a full queue drops new events, logs once, and the caller still returns at once", () =>
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      const logs = capturedLogs()
      server.delay(200, { method: "POST" })
      yield* withEvents(server, { queueCapacity: 2 }, (events) =>
        warnAll(
          events,
          Array.from({ length: 8 }, (_, i) => warningFor(`web-${i}`))
        )
      ).pipe(Effect.provide(logs.layer))
      const sent = server.requestsMatching({ method: "POST" }).length
      assert.isAtLeast(sent, 2)
      assert.isAtMost(sent, 3)
      assert.strictEqual(logs.lines.filter((l) => l.includes("event queue is full")).length, 1)
    })
  )

  it.live("closing the layer flushes pending events", () =>
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      server.delay(200, { method: "POST" })
      yield* withEvents(server, {}, (events) => warnAll(events, [warningFor("a"), warningFor("b"), warningFor("c")]))
      assert.deepStrictEqual(
        stored(server)
          .map((e) => e["involvedObject"].name)
          .sort(),
        ["a", "b", "c"]
      )
    })
  )

  it.live("the flush gives up after 2 s and aborts what is in flight", () =>
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      server.delay(1_500, { method: "POST" })
      const start = performance.now()
      yield* withEvents(server, {}, (events) => warnAll(events, [warningFor("a"), warningFor("b"), warningFor("c")]))
      const closeTook = performance.now() - start
      assert.strictEqual(stored(server).length, 1)
      // The flush deadline is 2 s; waiting for all three 1.5 s POSTs would take 4.5 s.
      assert.isAbove(closeTook, 1_900)
      assert.isBelow(closeTook, 4_000)
    })
  )

  it.live("truncates a long message to the API limit on a character boundary", () =>
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      const long = "é".repeat(1_000)
      yield* withEvents(server, {}, (events) => events.warning(warningFor("web-0", "ProviderError", long)))
      const message = stored(server)[0]!["message"] as string
      assert.strictEqual(Buffer.byteLength(message), 1_024)
      assert.strictEqual(message, "é".repeat(512))
    })
  )

  it.live("a pod without namespace (no podInfoOnMount) is skipped, not sent", () =>
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      yield* withEvents(server, {}, (events) =>
        events.warning({ ...warningFor("web-0"), pod: { name: "", namespace: "", uid: "" } })
      )
      assert.strictEqual(server.requests.length, 0)
    })
  )
})

describe("event message and name", () => {
  it.each([
    { text: "abc", max: 3, expected: "abc" },
    { text: "abcd", max: 3, expected: "abc" },
    { text: "aé", max: 2, expected: "a" },
    { text: "a😀b", max: 4, expected: "a" },
    { text: "a😀b", max: 5, expected: "a😀" },
    { text: "", max: 0, expected: "" }
  ])("truncateUtf8($text, $max)", ({ text, max, expected }) => {
    assert.strictEqual(truncateUtf8(text, max), expected)
  })

  it("the suppressed note is kept whole and the total stays within the limit", () => {
    assert.strictEqual(eventMessage("x", 0), "x")
    assert.strictEqual(eventMessage("x", 1), "x (1 similar event suppressed)")
    const m = eventMessage("y".repeat(5_000), 12)
    assert.strictEqual(Buffer.byteLength(m), maxMessageBytes)
    assert.isTrue(m.endsWith("y (12 similar events suppressed)"))
  })

  it("names are <pod>.<hex>, unique per counter, and never longer than 253", () => {
    assert.strictEqual(eventName("web-0", 1, 0), "web-0.f4240")
    assert.notStrictEqual(eventName("web-0", 1_700_000_000_000, 1), eventName("web-0", 1_700_000_000_000, 2))
    const long = eventName("p".repeat(253), 1_700_000_000_000, 7)
    assert.strictEqual(long.length, 253)
    assert.match(long, /^p+\.[0-9a-f]+$/)
  })
})

describe("Events.layerInMemory", () => {
  it.effect("records every warning as asked, with the default component", () =>
    Effect.gen(function* () {
      const events = yield* Events
      yield* events.warning(warningFor("web-0"))
      yield* events.warning({
        ...warningFor("web-0", "FailedToCreateSecret"),
        component: "csi-secrets-store-controller"
      })
      const list = yield* (yield* EventsInMemory).list
      assert.deepStrictEqual(
        list.map((e) => [e.reason, e.component]),
        [
          ["ProviderError", "secrets-store-csi-driver"],
          ["FailedToCreateSecret", "csi-secrets-store-controller"]
        ]
      )
      assert.strictEqual(list[0]!.message, "failed to mount ns1/web-0")
    }).pipe(Effect.provide(Events.layerInMemory))
  )
})
