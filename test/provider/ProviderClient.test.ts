import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import { Status } from "nice-grpc"
import { encodeMountRequest } from "../../src/provider/MountRequestEncoding.js"
import { ProviderClient, type ProviderClientOptions } from "../../src/provider/ProviderClient.js"
import {
  crashDuringCall,
  delay,
  failWith,
  hang,
  makeTestProvider,
  respond,
  respondFiles,
  type TestProvider
} from "../support/TestProvider.js"

const request = encodeMountRequest({
  parameters: { objects: "- objectName: foo" },
  volumeContext: { "csi.storage.k8s.io/pod.name": "web-0" },
  secrets: Redacted.make({}),
  targetPath: "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/v/mount"
})

const options = (provider: TestProvider, overrides: Partial<ProviderClientOptions> = {}): ProviderClientOptions => ({
  providerDirs: [provider.dir],
  maxCallRecvMsgSize: 4 * 1024 * 1024,
  maxProviderFiles: 10_000,
  providerTimeout: "5 seconds",
  healthCheck: false,
  healthCheckInterval: "2 minutes",
  retryBaseDelay: "10 millis",
  ...overrides
})

/** Runs `f` with a live ProviderClient whose layer lives as long as `f`. */
const withClient = <A, E>(
  clientOptions: ProviderClientOptions,
  f: (client: ProviderClient["Service"]) => Effect.Effect<A, E>
) =>
  Effect.gen(function* () {
    return yield* f(yield* ProviderClient)
  }).pipe(Effect.provide(ProviderClient.layer(clientOptions)))

const capturedLogs = () => {
  const lines: Array<string> = []
  const layer = Logger.layer([
    Logger.make((o) => void lines.push(`${String(o.logLevel)}: ${JSON.stringify(o.message)}`))
  ])
  return { lines, layer }
}

describe("ProviderClient against a real provider", () => {
  it.live("returns the provider's files and object versions", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(respondFiles([{ path: "foo", contents: "bar", mode: 0o600 }]))
      const result = yield* withClient(options(provider), (client) => client.mount("test", request))
      assert.deepStrictEqual(result.objectVersions, [{ id: "secret/foo", version: "v1" }])
      assert.strictEqual(result.files.length, 1)
      assert.strictEqual(result.files[0]!.path, "foo")
      assert.strictEqual(result.files[0]!.mode, 0o600)
      assert.strictEqual(Buffer.from(result.files[0]!.contents).toString(), "bar")
    })
  )

  it.live("sends the request as encoded, with :authority localhost", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(respondFiles([{ path: "foo", contents: "bar" }]))
      yield* withClient(options(provider), (client) => client.mount("test", request))
      const received = provider.mountRequests()
      assert.strictEqual(received.length, 1)
      assert.strictEqual(
        received[0]!.attributes,
        '{"csi.storage.k8s.io/pod.name":"web-0","objects":"- objectName: foo"}'
      )
      assert.strictEqual(received[0]!.secrets, "null")
      assert.strictEqual(received[0]!.permission, "420")
      assert.strictEqual(received[0]!.targetPath, request.targetPath)
      assert.deepStrictEqual(received[0]!.currentObjectVersion, [])
      assert.deepStrictEqual(provider.authorities(), ["localhost"])
    })
  )

  it.live("fails with ProviderError and the provider's code when error.code is set", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(
        respond({ objectVersion: [{ id: "secret/foo", version: "v1" }], error: { code: "AccessDenied" } })
      )
      const error = yield* withClient(options(provider), (client) => Effect.flip(client.mount("test", request)))
      assert.strictEqual(error.reason, "ProviderError")
      assert.strictEqual(error.providerCode, "AccessDenied")
      assert.include(error.message, "mount request failed with provider error code AccessDenied")
      assert.include(error.message, '"test"')
    })
  )

  it.live("fails with InvalidProviderResponse when no object versions come back", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(respond({ objectVersion: [], files: [{ path: "foo", contents: new Uint8Array([1]) }] }))
      const error = yield* withClient(options(provider), (client) => Effect.flip(client.mount("test", request)))
      assert.strictEqual(error.reason, "InvalidProviderResponse")
      assert.include(error.message, "missing object versions")
    })
  )

  it.live("retries UNAVAILABLE: two failures then success is three calls", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.queueMount(failWith(Status.UNAVAILABLE, "warming up"), failWith(Status.UNAVAILABLE, "warming up"))
      provider.onMount(respondFiles([{ path: "foo", contents: "bar" }]))
      const result = yield* withClient(options(provider), (client) => client.mount("test", request))
      assert.strictEqual(result.files.length, 1)
      assert.strictEqual(provider.mountRequests().length, 3)
    })
  )

  it.live("gives up after three UNAVAILABLE answers with ProviderUnavailable", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(failWith(Status.UNAVAILABLE, "down for maintenance"))
      const error = yield* withClient(options(provider), (client) => Effect.flip(client.mount("test", request)))
      assert.strictEqual(error.reason, "ProviderUnavailable")
      assert.strictEqual(provider.mountRequests().length, 3)
    })
  )

  it.live("does not retry INTERNAL", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(failWith(Status.INTERNAL, "vault said no"))
      const error = yield* withClient(options(provider), (client) => Effect.flip(client.mount("test", request)))
      assert.strictEqual(error.reason, "ProviderError")
      assert.strictEqual(error.grpcStatus, "INTERNAL")
      assert.include(error.message, "vault said no")
      assert.strictEqual(provider.mountRequests().length, 1)
    })
  )

  it.live("fails with ProviderTimeout at the configured deadline", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(hang)
      const started = Date.now()
      const error = yield* withClient(options(provider, { providerTimeout: "300 millis" }), (client) =>
        Effect.flip(client.mount("test", request))
      )
      const elapsed = Date.now() - started
      assert.strictEqual(error.reason, "ProviderTimeout")
      assert.include(error.message, '"test"')
      // Never before the deadline; the upper bound only proves the hang was cut (the provider never answers), with a
      // margin a loaded machine keeps.
      assert.isAtLeast(elapsed, 290)
      assert.isBelow(elapsed, 15_000)
    })
  )

  it.live("answers a slow provider that is within the deadline", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(delay(100, respondFiles([{ path: "foo", contents: "bar" }])))
      const result = yield* withClient(options(provider, { providerTimeout: "2 seconds" }), (client) =>
        client.mount("test", request)
      )
      assert.strictEqual(result.files.length, 1)
    })
  )

  it.live("re-dials when the provider restarts on the same socket path", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(respondFiles([{ path: "foo", contents: "bar" }]))
      yield* withClient(options(provider), (client) =>
        Effect.gen(function* () {
          yield* client.mount("test", request)
          yield* provider.restart
          yield* client.mount("test", request)
          yield* provider.stop
          yield* provider.restart
          yield* client.mount("test", request)
        })
      )
      assert.strictEqual(provider.mountRequests().length, 3)
    })
  )

  it.live("survives a provider crash: the cut call fails, a dead socket is unavailable, a restart recovers", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.queueMount(crashDuringCall)
      provider.onMount(respondFiles([{ path: "foo", contents: "bar" }]))
      yield* withClient(options(provider), (client) =>
        Effect.gen(function* () {
          const cut = yield* Effect.flip(client.mount("test", request))
          assert.oneOf(cut.reason, ["ProviderError", "ProviderUnavailable"])
          yield* provider.crash // already under way: waits until the dead socket is in place
          const refused = yield* Effect.flip(client.mount("test", request))
          assert.strictEqual(refused.reason, "ProviderUnavailable")
          assert.strictEqual(provider.mountRequests().length, 1)
          yield* provider.restart
          const result = yield* client.mount("test", request)
          assert.strictEqual(result.files.length, 1)
        })
      )
    })
  )

  it.live("fails a response over --max-call-recv-msg-size with the hint, and logs it", () =>
    Effect.gen(function* () {
      const logs = capturedLogs()
      const provider = yield* makeTestProvider()
      provider.onMount(respondFiles([{ path: "big", contents: new Uint8Array(64 * 1024) }]))
      const error = yield* withClient(options(provider, { maxCallRecvMsgSize: 16 * 1024 }), (client) =>
        Effect.flip(client.mount("test", request))
      ).pipe(Effect.provide(logs.layer))
      assert.strictEqual(error.reason, "ProviderError")
      assert.strictEqual(error.grpcStatus, "RESOURCE_EXHAUSTED")
      assert.include(error.message, "--max-call-recv-msg-size")
      assert.isTrue(
        logs.lines.some((line) => line.includes("--max-call-recv-msg-size")),
        logs.lines.join("\n")
      )
      assert.strictEqual(provider.mountRequests().length, 1)
    })
  )

  it.live("warns when a response is larger than 1 MiB, without logging contents", () =>
    Effect.gen(function* () {
      const logs = capturedLogs()
      const provider = yield* makeTestProvider()
      provider.onMount(respondFiles([{ path: "big", contents: Buffer.alloc(1024 * 1024 + 1, "s") }]))
      const result = yield* withClient(options(provider), (client) => client.mount("test", request)).pipe(
        Effect.provide(logs.layer)
      )
      assert.strictEqual(result.files[0]!.contents.byteLength, 1024 * 1024 + 1)
      assert.isTrue(
        logs.lines.some((line) => line.includes("larger than 1 MiB")),
        logs.lines.join("\n")
      )
      assert.isFalse(logs.lines.some((line) => line.includes("sss")))
    })
  )

  it.live("prefers the socket in an additional directory over the provider volume", () =>
    Effect.gen(function* () {
      const additional = yield* makeTestProvider({ name: "twin" })
      const volume = yield* makeTestProvider({ name: "twin" })
      additional.onMount(respondFiles([{ path: "from-additional", contents: "a" }]))
      volume.onMount(respondFiles([{ path: "from-volume", contents: "v" }]))
      const result = yield* withClient(options(volume, { providerDirs: [additional.dir, volume.dir] }), (client) =>
        client.mount("twin", request)
      )
      assert.strictEqual(result.files[0]!.path, "from-additional")
      assert.strictEqual(volume.mountRequests().length, 0)
    })
  )

  it.live("fails with ProviderNotFound for a missing socket or an invalid name, without calling anything", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      yield* withClient(options(provider), (client) =>
        Effect.gen(function* () {
          const missing = yield* Effect.flip(client.mount("nope", request))
          assert.strictEqual(missing.reason, "ProviderNotFound")
          assert.strictEqual(missing.message, 'provider not found: provider "nope"')
          for (const name of ["../test", "a b", "x".repeat(31)]) {
            const invalid = yield* Effect.flip(client.mount(name, request))
            assert.strictEqual(invalid.reason, "ProviderNotFound")
            assert.include(invalid.message, "invalid provider name")
          }
        })
      )
      assert.strictEqual(provider.mountRequests().length, 0)
    })
  )

  it.live("health-checks with Version v1alpha1 and describes the provider's answer", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(respondFiles([{ path: "foo", contents: "bar" }]))
      const opts = options(provider, { healthCheck: true, healthCheckInterval: "50 millis" })
      const healthy = yield* withClient(opts, (client) =>
        client.mount("test", request).pipe(Effect.andThen(waitForHealth(client, (h) => h?.healthy === true)))
      )
      assert.strictEqual(healthy.detail, "test-provider 0.0.1 (v1alpha1)")
      assert.deepStrictEqual(provider.versionRequests()[0], { version: "v1alpha1" })
    })
  )

  it.live("health-checks every dialled provider and keeps the last result", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(respondFiles([{ path: "foo", contents: "bar" }]))
      const opts = options(provider, { healthCheck: true, healthCheckInterval: "50 millis" })
      yield* withClient(opts, (client) =>
        Effect.gen(function* () {
          assert.strictEqual((yield* client.health).size, 0)
          yield* client.mount("test", request)
          const healthy = yield* waitForHealth(client, (h) => h?.healthy === true)
          assert.include(healthy.detail, "test-provider 0.0.1")
          // A dead provider (its socket refuses connections) is unhealthy.
          yield* provider.crash
          const unhealthy = yield* waitForHealth(client, (h) => h?.healthy === false)
          assert.include(unhealthy.detail, '"test"')
        })
      )
    })
  )

  it.live("a provider whose socket is gone from the node is forgotten, and found again by the next Mount", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(respondFiles([{ path: "foo", contents: "bar" }]))
      const reported: Array<string> = []
      const report = {
        mountEnded: () => Effect.void,
        circuitChanged: () => Effect.void,
        healthChecked: (p: string, healthy: boolean | undefined) =>
          Effect.sync(() => void reported.push(`${p}:${healthy === undefined ? "gone" : healthy}`))
      }
      const opts = options(provider, { healthCheck: true, healthCheckInterval: "50 millis", report })
      yield* withClient(opts, (client) =>
        Effect.gen(function* () {
          yield* client.mount("test", request)
          yield* waitForHealth(client, (h) => h?.healthy === true)
          yield* provider.stop
          yield* Effect.gen(function* () {
            while ((yield* client.health).has("test")) yield* Effect.sleep("20 millis")
          }).pipe(Effect.timeout("5 seconds"))
          assert.strictEqual(reported.at(-1), "test:gone")
          yield* provider.restart
          yield* client.mount("test", request)
          yield* waitForHealth(client, (h) => h?.healthy === true)
        })
      )
    })
  )
})

describe("ProviderClient's circuit breaker against a real provider", () => {
  it.live("one Mount call (its retries included) is one outage; after N the circuit fails calls without dialling", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(failWith(Status.UNAVAILABLE, "down"))
      const changes: Array<string> = []
      const ended: Array<string> = []
      const report = {
        mountEnded: (_p: string, _s: number, reason: string | undefined) =>
          Effect.sync(() => void ended.push(reason ?? "ok")),
        circuitChanged: (p: string, state: { _tag: string }) =>
          Effect.sync(() => void changes.push(`${p}:${state._tag}`)),
        healthChecked: () => Effect.void
      }
      yield* withClient(options(provider, { circuitThreshold: 2, report }), (client) =>
        Effect.gen(function* () {
          for (let i = 0; i < 2; i++) {
            assert.strictEqual((yield* Effect.flip(client.mount("test", request))).reason, "ProviderUnavailable")
          }
          assert.strictEqual(provider.mountRequests().length, 6)
          const refused = yield* Effect.flip(client.mount("test", request))
          assert.match(refused.message, /^circuit open for provider "test" until /)
          assert.strictEqual(provider.mountRequests().length, 6)
          assert.deepStrictEqual(changes, ["test:Open"])
          // Refused calls never went out: only the two real ones are reported.
          assert.deepStrictEqual(ended, ["ProviderUnavailable", "ProviderUnavailable"])
          assert.strictEqual((yield* client.circuits).get("test")?._tag, "Open")
          // A provider's own error answers keep it closed (after the cool-off, the trial gets one).
          provider.onMount(respond({ error: { code: "Forbidden" } }))
          let answer = refused
          while (answer.message.startsWith("circuit open")) {
            yield* Effect.sleep("50 millis")
            answer = yield* Effect.flip(client.mount("test", request))
          }
          assert.strictEqual(answer.reason, "ProviderError")
          assert.deepStrictEqual(changes, ["test:Open", "test:HalfOpen", "test:Closed"])
        })
      )
    })
  )
})

type Health = NonNullable<ReturnType<Effect.Success<ProviderClient["Service"]["health"]>["get"]>>

const waitForHealth = (client: ProviderClient["Service"], done: (h: Health | undefined) => boolean) =>
  Effect.gen(function* () {
    for (;;) {
      const health = (yield* client.health).get("test")
      if (health !== undefined && done(health)) return health
      yield* Effect.sleep("20 millis")
    }
  }).pipe(Effect.timeout("5 seconds"))
