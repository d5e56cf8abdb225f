// The one klog line per publish, republish that called the provider, and unpublish at the default verbosity; the
// no-op republish only at -v=5 (kubelet republishes every volume about once a minute).
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { TestConsole } from "effect/testing"
import { Logging } from "../../src/config/Logging.js"
import { Publisher } from "../../src/publish/Publisher.js"
import { Status } from "nice-grpc"
import { failWith, makeTestProvider, respondFiles } from "../support/TestProvider.js"
import { publisherWith, request, spc, tempTarget } from "./fixtures.js"

const good = spc("default", "my-spc", { provider: "test", parameters: { objects: "- objectName: a" } })
const files = respondFiles([{ path: "a", contents: "secret-a" }], [{ id: "secret/a", version: "v1" }])

/** Publishes `target` twice and unpublishes it at `-v=verbosity`; returns the JSON lines logged. */
const lifeOfAVolume = (verbosity: number, rotation: boolean) =>
  Effect.gen(function* () {
    const provider = yield* makeTestProvider()
    provider.onMount(files)
    const target = tempTarget()
    yield* Effect.gen(function* () {
      const publisher = yield* Publisher
      yield* publisher.publish(yield* request(target))
      yield* publisher.publish(yield* request(target))
      yield* publisher.unpublish({ volumeId: "v", targetPath: target })
    }).pipe(
      Effect.provide(
        publisherWith(provider.dir, [good], { enableSecretRotation: rotation, rotationPollInterval: Duration.zero })
      ),
      Effect.provide(Logging.layer({ logFormatJson: true, verbosity }, "driver"))
    )
    const lines = (yield* TestConsole.errorLines).map((line) => JSON.parse(String(line)) as Record<string, unknown>)
    return { target, lines, text: (yield* TestConsole.errorLines).join("\n") }
  }).pipe(Effect.provide(TestConsole.layer), Effect.scoped)

const volumeLines = (lines: ReadonlyArray<Record<string, unknown>>) =>
  lines.filter((line) => line["msg"] === "NodePublishVolume" || line["msg"] === "NodeUnpublishVolume")

describe("publish log lines", () => {
  it.live("-v=0: a mount, a republish that called the provider and an unpublish are one line each", () =>
    Effect.gen(function* () {
      const { target, lines, text } = yield* lifeOfAVolume(0, true)
      const uid = /pods\/([^/]+)\//.exec(target)?.[1]
      const logged = volumeLines(lines)
      expect(logged.map((line) => [line["msg"], line["outcome"]])).toEqual([
        ["NodePublishVolume", "mounted"],
        ["NodePublishVolume", "refreshed"],
        ["NodeUnpublishVolume", "unmounted"]
      ])
      expect(logged[0]).toMatchObject({
        caller: "Publisher.publish",
        v: 0,
        pod: { name: "pod-1", namespace: "default" },
        spc: { name: "my-spc", namespace: "default" },
        provider: "test",
        target
      })
      expect(logged[2]).toMatchObject({ podUID: uid, volume: "v", target })
      for (const line of logged) expect(typeof line["durationMs"]).toBe("number")
      expect(text).not.toContain("secret-a")
    })
  )

  it.live("a no-op republish logs nothing below -v=5 and one V(5) line at -v=5", () =>
    Effect.gen(function* () {
      const quiet = yield* lifeOfAVolume(2, false)
      expect(volumeLines(quiet.lines).map((line) => line["outcome"])).toEqual(["mounted", "unmounted"])
      expect(quiet.lines.map((line) => line["msg"])).not.toContain("publish skipped")
      const loud = yield* lifeOfAVolume(5, false)
      expect(volumeLines(loud.lines).map((line) => [line["outcome"], line["v"]])).toEqual([
        ["mounted", 0],
        ["skipped", 5],
        ["unmounted", 0]
      ])
    })
  )

  it.live("a failed publish is one warning: err first, the pod as an object, provider and reason", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(failWith(Status.PERMISSION_DENIED, "denied"))
      const target = tempTarget()
      yield* Effect.gen(function* () {
        yield* (yield* Publisher).publish(yield* request(target)).pipe(Effect.flip)
      }).pipe(
        Effect.provide(publisherWith(provider.dir, [good])),
        Effect.provide(Logging.layer({ logFormatJson: false, verbosity: 0 }, "driver"))
      )
      const lines = (yield* TestConsole.errorLines).map(String)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(
        new RegExp(
          String.raw`^W\d{4} [\d:.]+ +\d+ Publisher\.publish\] "publish failed" ` +
            String.raw`err="provider \\"test\\": PERMISSION_DENIED: denied" ` +
            String.raw`target="${target}" pod="default/pod-1" provider="test" reason="ProviderError"$`
        )
      )
    }).pipe(Effect.provide(TestConsole.layer), Effect.scoped)
  )
})
