// The no-op republish on the real mounter, writer and layout check: once a full check passed, a republish answers
// from the remembered verdict only while the target is the very directory it was, unchanged; confinement is checked
// on every call. Each case changes the target behind the driver's back after a remembered no-op, and the next
// publish must see it.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { Publisher, type PublishOptions } from "../../src/publish/Publisher.js"
import { SETTLED_MILLIS } from "../../src/publish/VerifiedTargets.js"
import { eventually } from "../support/ChildProcess.js"
import { mountsUnder, unmountAllUnder } from "../support/StressHarness.js"
import { makeTestProvider, respondFiles, type TestProvider } from "../support/TestProvider.js"
import { kubeletRoot, livePublisherWith, request, spc, tempTarget } from "./fixtures.js"

const good = spc("default", "my-spc", { provider: "test", parameters: { objects: "- objectName: a" } })
const files = respondFiles([
  { path: "a", contents: "secret-a" },
  { path: "dir/b", contents: "secret-b" }
])

afterAll(() => unmountAllUnder(kubeletRoot))

const liveLayer = (provider: TestProvider, options: Partial<PublishOptions>) =>
  livePublisherWith(provider.dir, [good], options)

const settled = (target: string) => Date.now() - fs.statSync(target).ctimeMs > SETTLED_MILLIS
const mounted = (target: string) => mountsUnder(target).some((m) => m.mountPoint === target)
const visible = (target: string) => fs.readFileSync(path.join(target, "a"), "utf8")

/**
 * Publishes, republishes twice (the second answers from the remembered verdict), runs `change` on the target, and
 * hands the next publish's exit and the provider's call count to `expectations`.
 */
const afterRememberedNoop = (
  options: Partial<PublishOptions>,
  change: (target: string) => void,
  expectations: (target: string, exit: Exit.Exit<void, unknown>, providerCalls: number) => void
) =>
  Effect.gen(function* () {
    const provider = yield* makeTestProvider()
    provider.onMount(files)
    const target = tempTarget()
    yield* Effect.gen(function* () {
      const publisher = yield* Publisher
      yield* publisher.publish(yield* request(target))
      // A verdict is remembered only for a directory whose last change is older than any timestamp tick.
      yield* Effect.promise(() => eventually(() => expect(settled(target)).toBe(true)))
      yield* publisher.publish(yield* request(target))
      yield* publisher.publish(yield* request(target))
      expect(provider.mountRequests()).toHaveLength(1)
      change(target)
      const exit = yield* Effect.exit(publisher.publish(yield* request(target)))
      expectations(target, exit, provider.mountRequests().length)
    }).pipe(Effect.provide(liveLayer(provider, options)))
  }).pipe(Effect.scoped)

describe("Publisher (live): a remembered no-op republish still sees every change to its target", () => {
  for (const [name, options] of [
    ["rotation off", { enableSecretRotation: false }],
    ["rotation on", { enableSecretRotation: true, rotationPollInterval: Duration.minutes(2) }]
  ] as const) {
    it.live(`a visible link removed: the next publish rewrites the layout (${name})`, () =>
      afterRememberedNoop(
        options,
        (target) => fs.rmSync(path.join(target, "a")),
        (target, exit, calls) => {
          expect(Exit.isSuccess(exit)).toBe(true)
          expect(calls).toBe(2)
          expect(visible(target)).toBe("secret-a")
        }
      )
    )

    it.live(`a ..data_tmp left in the target: the next publish rewrites and heals (${name})`, () =>
      afterRememberedNoop(
        options,
        (target) => fs.symlinkSync(fs.readlinkSync(path.join(target, "..data")), path.join(target, "..data_tmp")),
        (target, exit, calls) => {
          expect(Exit.isSuccess(exit)).toBe(true)
          expect(calls).toBe(2)
          expect(fs.existsSync(path.join(target, "..data_tmp"))).toBe(false)
        }
      )
    )

    it.live(`the tmpfs unmounted behind the driver's back: the next publish mounts and writes again (${name})`, () =>
      afterRememberedNoop(
        options,
        (target) => execFileSync("umount", [target]),
        (target, exit, calls) => {
          expect(Exit.isSuccess(exit)).toBe(true)
          expect(calls).toBe(2)
          expect(mounted(target)).toBe(true)
          expect(visible(target)).toBe("secret-a")
        }
      )
    )
  }

  it.live("a fresh tmpfs mounted over the target: not taken for the remembered one, the publish writes into it", () =>
    afterRememberedNoop(
      { enableSecretRotation: false },
      (target) => execFileSync("mount", ["-t", "tmpfs", "tmpfs", target]),
      (target, exit, calls) => {
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(calls).toBe(2)
        expect(visible(target)).toBe("secret-a")
      }
    )
  )

  it.live("the pod's dir moved and replaced by a symlink to it (the same tmpfs at the end): refused", () =>
    afterRememberedNoop(
      { enableSecretRotation: false },
      (target) => {
        const podDir = target.split("/volumes/")[0]!
        fs.renameSync(podDir, `${podDir}-moved`)
        fs.symlinkSync(`${podDir}-moved`, podDir)
      },
      (_target, exit, calls) => {
        expect(Exit.isFailure(exit)).toBe(true)
        expect(JSON.stringify(exit)).toContain("is a symlink")
        expect(calls).toBe(1)
      }
    )
  )
})
