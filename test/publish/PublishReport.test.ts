// What a publish tells operators: metrics with upstream's semantics and a Warning Event on the pod for every
// failure, a masked republish failure included (docs/contract.md#typed-failure-reasons, #masked-republish-failure).
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { Status } from "nice-grpc"
import { EventsInMemory } from "../../src/k8s/Events.js"
import { Metrics } from "../../src/metrics/Metrics.js"
import { Publisher } from "../../src/publish/Publisher.js"
import { PublishReport } from "../../src/publish/PublishReport.js"
import { parsePrometheus, samplesOf } from "../metrics/parsePrometheus.js"
import { failWith, makeTestProvider, respondFiles } from "../support/TestProvider.js"
import { publisherWith, request, spc, tempTarget } from "./fixtures.js"

const good = spc("default", "my-spc", { provider: "test", parameters: { objects: "- objectName: a" } })
const files = respondFiles([{ path: "a", contents: "secret-a" }], [{ id: "secret/a", version: "v1" }])

const counters = (text: string, name: string) =>
  samplesOf(parsePrometheus(text), name).map((s) => ({ ...s.labels, value: s.value }))

describe("Publisher reporting", () => {
  it.live("a failed first publish counts an error with its reason and leaves one Warning Event", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(failWith(Status.PERMISSION_DENIED, "denied"))
      yield* Effect.gen(function* () {
        yield* (yield* Publisher).publish(yield* request(tempTarget())).pipe(Effect.flip)
        const events = yield* (yield* EventsInMemory).list
        expect(events.map((e) => [e.pod.name, e.pod.namespace, e.reason])).toEqual([
          ["pod-1", "default", "ProviderError"]
        ])
        expect(events[0]?.message).toContain("test")
        const text = yield* (yield* Metrics).render
        expect(counters(text, "node_publish_error_total")).toEqual([
          { provider: "test", error_type: "ProviderError", os_type: "linux", value: 1 }
        ])
        expect(counters(text, "node_publish_total")).toEqual([])
      }).pipe(Effect.provide(publisherWith(provider.dir, [good])))
    }).pipe(Effect.scoped)
  )

  it.live("a masked republish failure is counted, evented, and kubelet still sees success", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(files)
      const target = tempTarget()
      yield* Effect.gen(function* () {
        const publisher = yield* Publisher
        yield* publisher.publish(yield* request(target))
        provider.onMount(failWith(Status.UNAVAILABLE, "down"))
        yield* publisher.publish(yield* request(target))
        const events = yield* (yield* EventsInMemory).list
        expect(events.map((e) => e.reason)).toEqual(["ProviderUnavailable"])
        const text = yield* (yield* Metrics).render
        expect(counters(text, "node_publish_total")).toEqual([{ provider: "test", os_type: "linux", value: 1 }])
        expect(counters(text, "node_publish_error_total")).toEqual([
          { provider: "test", error_type: "ProviderUnavailable", os_type: "linux", value: 1 }
        ])
        expect(counters(text, "rotation_reconcile_error_total")).toEqual([
          { provider: "test", error_type: "ProviderUnavailable", os_type: "linux", rotated: "false", value: 1 }
        ])
      }).pipe(
        Effect.provide(
          publisherWith(provider.dir, [good], { enableSecretRotation: true, rotationPollInterval: Duration.zero })
        )
      )
    }).pipe(Effect.scoped)
  )

  it.live("a successful refresh counts a rotation; a skipped republish counts a publish only", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(files)
      const target = tempTarget()
      yield* Effect.gen(function* () {
        const publisher = yield* Publisher
        yield* publisher.publish(yield* request(target))
        yield* publisher.publish(yield* request(target))
        const text = yield* (yield* Metrics).render
        expect(counters(text, "node_publish_total")).toEqual([{ provider: "test", os_type: "linux", value: 2 }])
        expect(counters(text, "rotation_reconcile_total")).toEqual([
          { provider: "test", os_type: "linux", rotated: "true", value: 1 }
        ])
        expect(samplesOf(parsePrometheus(text), "rotation_reconcile_duration_sec_count")[0]?.value).toBe(1)
        yield* publisher.unpublish({ volumeId: "v", targetPath: target })
        const after = yield* (yield* Metrics).render
        expect(counters(after, "node_unpublish_total")).toEqual([{ os_type: "linux", value: 1 }])
      }).pipe(
        Effect.provide(
          publisherWith(provider.dir, [good], { enableSecretRotation: true, rotationPollInterval: Duration.zero })
        )
      )
    }).pipe(Effect.scoped)
  )

  it.live("a request refused at the edge counts as a failed publish and warns the pod it names", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      yield* Effect.gen(function* () {
        const report = yield* PublishReport
        const context = {
          "csi.storage.k8s.io/pod.name": "web-1",
          "csi.storage.k8s.io/pod.namespace": "default",
          "csi.storage.k8s.io/pod.uid": "u1"
        }
        yield* report.publishRejected(context, "relative/path", {
          reason: "InvalidRequest",
          message: "Target path is not absolute"
        })
        yield* report.unpublishFailed
        const text = yield* (yield* Metrics).render
        expect(counters(text, "node_publish_error_total")).toEqual([
          { provider: "", error_type: "InvalidRequest", os_type: "linux", value: 1 }
        ])
        expect(counters(text, "node_unpublish_error_total")).toEqual([{ os_type: "linux", value: 1 }])
        expect((yield* (yield* EventsInMemory).list).map((e) => [e.pod.name, e.reason])).toEqual([
          ["web-1", "InvalidRequest"]
        ])
      }).pipe(Effect.provide(publisherWith(provider.dir, [good])))
    }).pipe(Effect.scoped)
  )

  it.live("the provider label is the SPC's spec.provider, never the pod's providerName attribute", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(failWith(Status.PERMISSION_DENIED, "denied"))
      yield* Effect.gen(function* () {
        const publisher = yield* Publisher
        const base = yield* request(tempTarget())
        const chosen = (name: string, spcName = "my-spc") => ({
          ...base.volumeContext,
          providerName: name,
          secretProviderClass: spcName
        })
        // Before the SPC is read (it does not exist): "".
        yield* publisher.publish({ ...base, volumeContext: chosen("pod-chosen-1", "absent") }).pipe(Effect.flip)
        // Refused at the edge: "".
        yield* (yield* PublishReport).publishRejected(chosen("pod-chosen-2"), "relative/path", {
          reason: "InvalidRequest",
          message: "bad"
        })
        // After the SPC is read: its spec.provider.
        yield* publisher.publish({ ...base, volumeContext: chosen("pod-chosen-3") }).pipe(Effect.flip)
        const text = yield* (yield* Metrics).render
        expect(text).not.toContain("pod-chosen")
        expect(counters(text, "node_publish_error_total")).toEqual([
          { provider: "", error_type: "SecretProviderClassNotFound", os_type: "linux", value: 1 },
          { provider: "", error_type: "InvalidRequest", os_type: "linux", value: 1 },
          { provider: "test", error_type: "ProviderError", os_type: "linux", value: 1 }
        ])
      }).pipe(Effect.provide(publisherWith(provider.dir, [good])))
    }).pipe(Effect.scoped)
  )
})

describe("node cache reporting", () => {
  const cached: typeof good = {
    ...good,
    metadata: { ...good.metadata, annotations: { "secrets-store.csi.k8s.io/node-cache-max-staleness": "1h" } }
  }
  it.live(
    "a stale serve leaves a ServedStale Event naming the class and age; rotation off says nothing refreshes",
    () =>
      Effect.gen(function* () {
        const provider = yield* makeTestProvider()
        provider.onMount(files)
        yield* Effect.gen(function* () {
          const publisher = yield* Publisher
          yield* publisher.publish(yield* request(tempTarget()))
          provider.onMount(failWith(Status.UNAVAILABLE, "down"))
          yield* publisher.publish(yield* request(tempTarget()))
          const events = yield* (yield* EventsInMemory).list
          expect(events.map((e) => e.reason)).toEqual(["ServedStale"])
          const message = events[0]?.message ?? ""
          expect(message).toMatch(/^SecretProviderClass default\/my-spc: the provider failed \(ProviderUnavailable: /)
          expect(message).toMatch(/; served the node cache's copy fetched \d+s ago; rotation is off: nothing will/)
          expect(message).toMatch(/nothing will refresh it$/)
          expect(message).not.toContain("secret-a")
          const text = yield* (yield* Metrics).render
          expect(counters(text, "provider_stale_served_total")).toEqual([
            { provider: "test", os_type: "linux", value: 1 }
          ])
          expect(counters(text, "node_publish_error_total")).toEqual([])
        }).pipe(Effect.provide(publisherWith(provider.dir, [cached], { enableSecretRotation: false })))
      }).pipe(Effect.scoped)
  )
})
