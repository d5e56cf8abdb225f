// The Publisher on the real mounter, writer and layout check (real tmpfs under a temp kubelet root), a real provider
// client and a TestProvider; only Kubernetes is in memory. What a crash or a failed rollback leaves at a target, and
// what the next publish must make of it.
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { ServerError, Status } from "nice-grpc"
import type { TypedFailure } from "../../src/domain/FailureReason.js"
import { Publisher, type PublishOptions } from "../../src/publish/Publisher.js"
import { mountsUnder, unmountAllUnder } from "../support/StressHarness.js"
import { makeTestProvider, respondFiles, type MountBehaviour, type TestProvider } from "../support/TestProvider.js"
import { kubeletRoot, livePublisherWith, request, spc, tempTarget } from "./fixtures.js"

const good = spc("default", "my-spc", { provider: "test", parameters: { objects: "- objectName: a" } })
const files = respondFiles([
  { path: "a", contents: "secret-a" },
  { path: "dir/b", contents: "secret-b" }
])

afterAll(() => unmountAllUnder(kubeletRoot))

const liveLayer = (provider: TestProvider, options: Partial<PublishOptions>) =>
  livePublisherWith(provider.dir, [good], options)

const mounted = (target: string) => mountsUnder(target).some((m) => m.mountPoint === target)

/** A tmpfs at a fresh target, filled by `fill`: what a driver killed after its mount leaves. */
const leftoverTmpfs = (fill: (target: string) => void) => {
  const target = tempTarget()
  fs.mkdirSync(target, { recursive: true })
  execFileSync("mount", ["-t", "tmpfs", "tmpfs", target])
  fill(target)
  return target
}

const halfLayout = (target: string) => {
  // The writer's data dir was made and partly written, its links too, and the kill came before the `..data` swap.
  const dataDir = path.join(target, "..2026_01_02_03_04_05.123")
  fs.mkdirSync(dataDir)
  fs.writeFileSync(path.join(dataDir, "a"), "half")
  fs.symlinkSync("..data/a", path.join(target, "a"))
  fs.symlinkSync("..data/dir", path.join(target, "dir"))
}

const publishTwice = (provider: TestProvider, target: string, options: Partial<PublishOptions>) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    yield* publisher.publish(yield* request(target))
    expect(provider.mountRequests()).toHaveLength(1)
    expect(fs.readFileSync(path.join(target, "a"), "utf8")).toBe("secret-a")
    expect(fs.readFileSync(path.join(target, "dir", "b"), "utf8")).toBe("secret-b")
    expect(fs.readdirSync(target).sort()).toEqual(
      ["..data", fs.readlinkSync(path.join(target, "..data")), "a", "dir"].sort()
    )
    expect(mountsUnder(target)).toHaveLength(1)
    // Now the layout is complete: a republish within the interval (or with rotation off) skips the provider.
    yield* publisher.publish(yield* request(target))
    expect(provider.mountRequests()).toHaveLength(1)
  }).pipe(Effect.provide(liveLayer(provider, options)))

describe("Publisher (live): a tmpfs at the target is not a published volume unless its layout is complete", () => {
  for (const [name, options] of [
    ["rotation off", { enableSecretRotation: false }],
    ["rotation on", { enableSecretRotation: true, rotationPollInterval: Duration.minutes(2) }]
  ] as const) {
    it.live(`an empty tmpfs (killed right after the mount): the next publish calls the provider (${name})`, () =>
      Effect.gen(function* () {
        const provider = yield* makeTestProvider()
        provider.onMount(files)
        yield* publishTwice(
          provider,
          leftoverTmpfs(() => {}),
          options
        )
      }).pipe(Effect.scoped)
    )

    it.live(`half a layout (a data dir, dangling links, no ..data): rewritten and healed (${name})`, () =>
      Effect.gen(function* () {
        const provider = yield* makeTestProvider()
        provider.onMount(files)
        yield* publishTwice(provider, leftoverTmpfs(halfLayout), options)
      }).pipe(Effect.scoped)
    )
  }

  it.live("a provider that returns no files (it wrote them itself) still leaves a complete, empty layout", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(respondFiles([], [{ id: "secret/a", version: "v1" }]))
      const target = tempTarget()
      yield* Effect.gen(function* () {
        const publisher = yield* Publisher
        yield* publisher.publish(yield* request(target))
        yield* publisher.publish(yield* request(target))
        expect(provider.mountRequests()).toHaveLength(1)
      }).pipe(Effect.provide(liveLayer(provider, { enableSecretRotation: false })))
    }).pipe(Effect.scoped)
  )
})

/** Fails the Mount call after starting a process whose cwd is the (mounted) target: the rollback finds it busy. */
const chdirThenFail =
  (target: string, children: Array<ChildProcess>): MountBehaviour =>
  async () => {
    const child = spawn("sleep", ["600"], { cwd: target, stdio: "ignore" })
    children.push(child)
    await new Promise((resolve) => child.once("spawn", resolve))
    throw new ServerError(Status.INTERNAL, "provider gave up")
  }

describe("Publisher (live): a failed first publish leaves no mount behind", () => {
  it.live("a rollback unmount that fails with EBUSY (a process's cwd inside) detaches lazily and says so", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      const target = tempTarget()
      const children: Array<ChildProcess> = []
      yield* Effect.addFinalizer(() => Effect.sync(() => children.forEach((c) => c.kill("SIGKILL"))))
      provider.onMount(chdirThenFail(target, children))
      const exit = yield* Effect.gen(function* () {
        return yield* Effect.exit((yield* Publisher).publish(yield* request(target)))
      }).pipe(Effect.provide(liveLayer(provider, {})))
      expect(children).toHaveLength(1)
      expect(mounted(target), "the tmpfs is still mounted at the target").toBe(false)
      expect(Exit.isFailure(exit)).toBe(true)
      const failure = (Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined) as
        | { value?: TypedFailure }
        | undefined
      expect(failure?.value?.reason).toBe("ProviderError")
      expect(failure?.value?.message).toContain("provider gave up")
      expect(failure?.value?.message).toMatch(/EBUSY.*detached it lazily/)
    }).pipe(Effect.scoped)
  )
})
