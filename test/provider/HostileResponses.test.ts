// Hostile Mount and Version answers through a real provider socket: more files than --max-provider-files, file
// paths that are not UTF-8 (hand-built wire bytes), and error codes, status details and version strings that are
// huge or carry newlines, ANSI escapes, carriage returns and NULs.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { Status } from "nice-grpc"
import { encodeMountRequest } from "../../src/provider/MountRequestEncoding.js"
import { ProviderClient, type ProviderClientOptions } from "../../src/provider/ProviderClient.js"
import { encodeRawMountResponse, makeRawProvider } from "../support/RawProvider.js"
import { eventually } from "../support/ChildProcess.js"
import { failWith, makeTestProvider, respond, respondFiles } from "../support/TestProvider.js"

const request = encodeMountRequest({
  parameters: { objects: "- objectName: foo" },
  volumeContext: {},
  secrets: Redacted.make({}),
  targetPath: "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/v/mount"
})

const options = (dir: string, overrides: Partial<ProviderClientOptions> = {}): ProviderClientOptions => ({
  providerDirs: [dir],
  maxCallRecvMsgSize: 4 * 1024 * 1024,
  maxProviderFiles: 10_000,
  providerTimeout: "5 seconds",
  healthCheck: false,
  healthCheckInterval: "2 minutes",
  retryBaseDelay: "10 millis",
  ...overrides
})

const withClient = <A, E>(
  clientOptions: ProviderClientOptions,
  f: (client: ProviderClient["Service"]) => Effect.Effect<A, E>
) =>
  Effect.gen(function* () {
    return yield* f(yield* ProviderClient)
  }).pipe(Effect.provide(ProviderClient.layer(clientOptions)))

const v = [{ id: "secret/a", version: "1" }]
const files = (n: number) => Array.from({ length: n }, (_, i) => ({ path: `f${i}`, contents: "x" }))
// Nothing below U+0020, no DEL, no C1 control, no line or paragraph separator, no bidi override.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/

describe("--max-provider-files, checked on the wire", () => {
  it.live("one file more than the limit is InvalidProviderResponse naming the provider, the count and the flag", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(respondFiles(files(26), v))
      const limited = options(provider.dir, { maxProviderFiles: 25 })
      const error = yield* withClient(limited, (c) => Effect.flip(c.mount("test", request)))
      assert.strictEqual(error.reason, "InvalidProviderResponse")
      assert.include(error.message, '"test"')
      assert.include(error.message, "26 files")
      assert.include(error.message, "25")
      assert.include(error.message, "--max-provider-files")
    })
  )

  it.live("exactly the limit is returned whole", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(respondFiles(files(25), v))
      const result = yield* withClient(options(provider.dir, { maxProviderFiles: 25 }), (c) => c.mount("test", request))
      assert.strictEqual(result.files.length, 25)
      assert.strictEqual(result.files[24]!.path, "f24")
    })
  )
})

describe("file paths that are not UTF-8", () => {
  it.live("path bytes 0xff 0xfe are InvalidProviderResponse naming the file index, not its contents", () =>
    Effect.gen(function* () {
      const raw = yield* makeRawProvider()
      raw.answer(
        encodeRawMountResponse(v, [
          { path: "good", contents: "fine" },
          { path: new Uint8Array([0x61, 0xff, 0xfe]), contents: "top-secret-value" }
        ])
      )
      const error = yield* withClient(options(raw.dir), (c) => Effect.flip(c.mount(raw.name, request)))
      assert.strictEqual(error.reason, "InvalidProviderResponse")
      assert.include(error.message, "file 1 ")
      assert.include(error.message, "not valid UTF-8")
      assert.notInclude(error.message, "top-secret-value")
      assert.notInclude(error.message, "\ufffd")
    })
  )

  it.live("valid multi-byte UTF-8 paths pass unchanged", () =>
    Effect.gen(function* () {
      const raw = yield* makeRawProvider()
      raw.answer(encodeRawMountResponse(v, [{ path: "clé/日本", contents: "x" }]))
      const result = yield* withClient(options(raw.dir), (c) => c.mount(raw.name, request))
      assert.strictEqual(result.files[0]!.path, "clé/日本")
    })
  )
})

const hostileCodes: ReadonlyArray<readonly [string, string, string]> = [
  ["newline", "Denied\nlevel=info msg=forged", "Denied\\nlevel=info msg=forged"],
  ["ANSI colour", "\x1b[31mRED\x1b[0m", "\\x1b[31mRED\\x1b[0m"],
  ["carriage return", "ok\rDenied", "ok\\rDenied"],
  ["NUL", "a\u0000b", "a\\x00b"],
  ["bidi override", "a\u202eb", "a\\u202eb"],
  ["backslash", "a\\nb", "a\\\\nb"]
]

describe("a provider's error code is clipped and escaped", () => {
  for (const [name, code, shown] of hostileCodes) {
    it.live(`${name}: escaped in providerCode and message`, () =>
      Effect.gen(function* () {
        const provider = yield* makeTestProvider()
        provider.onMount(respond({ objectVersion: v, error: { code } }))
        const error = yield* withClient(options(provider.dir), (c) => Effect.flip(c.mount("test", request)))
        assert.strictEqual(error.reason, "ProviderError")
        assert.strictEqual(error.providerCode, shown)
        assert.include(error.message, `provider error code ${shown}`)
        assert.notMatch(error.message, CONTROL)
      })
    )
  }

  it.live("a 1 MiB code becomes at most 128 characters plus the length", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(respond({ objectVersion: v, error: { code: "\n".repeat(8) + "E".repeat(1024 * 1024) } }))
      const error = yield* withClient(options(provider.dir), (c) => Effect.flip(c.mount("test", request)))
      assert.strictEqual(error.providerCode, `${"\\n".repeat(8)}${"E".repeat(112)}…(${1024 * 1024 + 8} chars)`)
      assert.isBelow(error.message.length, 300)
      assert.notMatch(error.message, CONTROL)
    })
  )
})

describe("gRPC status details and version strings are escaped too", () => {
  it.live("details with ANSI escapes and newlines", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      provider.onMount(failWith(Status.PERMISSION_DENIED, "\x1b[2Jvault\nsaid\rno\u0000"))
      const error = yield* withClient(options(provider.dir), (c) => Effect.flip(c.mount("test", request)))
      assert.include(error.message, "PERMISSION_DENIED: \\x1b[2Jvault\\nsaid\\rno\\x00")
      assert.notMatch(error.message, CONTROL)
    })
  )

  it.live("a health check logs the escaped, clipped runtime name", () =>
    Effect.gen(function* () {
      const provider = yield* makeTestProvider()
      const runtimeName = `\x1b[31mevil\n${"x".repeat(100_000)}`
      provider.onVersion(async () => ({ version: "v1alpha1", runtimeName, runtimeVersion: "1" }))
      const checked = options(provider.dir, { healthCheck: true, healthCheckInterval: "100 millis" })
      const detail = yield* withClient(checked, (client) =>
        Effect.gen(function* () {
          yield* Effect.ignore(client.mount("test", request)) // dials the channel the health check then visits
          return yield* Effect.promise(() =>
            eventually(async () => {
              const health = (await Effect.runPromise(client.health)).get("test")
              if (health === undefined) throw new Error("no health check yet")
              return health.detail
            })
          )
        })
      )
      assert.match(detail, /^\\x1b\[31mevil\\nx+…\(\d+ chars\)$/)
      assert.isAtMost(detail.length, 512 + 20)
    })
  )
})
