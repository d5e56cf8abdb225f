import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { ClientError, createChannel, createClient, Status } from "nice-grpc"
import { CSIDriverProviderDefinition, type MountRequest } from "../../src/gen/provider/v1alpha1/service.js"
import { encodeMountRequest } from "../../src/provider/MountRequestEncoding.js"
import { ProviderClient } from "../../src/provider/ProviderClient.js"
import { socketPath } from "../../src/provider/providerSocket.js"
import { serveReferenceProvider } from "../../src/reference-provider/ReferenceProvider.js"
import { parseMode } from "../../src/reference-provider/ReferenceStore.js"

const STORE = `
db-password:
  contents: s3cret
  version: "3"
tls-cert:
  contents: Y2VydA==
  encoding: base64
  mode: "0600"
  version: v7
`

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "reference-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const setup = (dirIn?: string, store: string = STORE) =>
  Effect.gen(function* () {
    const dir = dirIn ?? (yield* tempDir)
    const storePath = path.join(dir, "store.yaml")
    fs.writeFileSync(storePath, store)
    yield* serveReferenceProvider({ providerDir: dir, name: "reference", storePath, version: "9.9.9" })
    return { dir, storePath }
  })

const mountRequest = (objects: string): MountRequest =>
  encodeMountRequest({
    parameters: { objects },
    volumeContext: { "csi.storage.k8s.io/pod.name": "web-0" },
    secrets: Redacted.make({}),
    targetPath: "/target"
  })

const withClient = <A, E>(dir: string, f: (client: ProviderClient["Service"]) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    return yield* f(yield* ProviderClient)
  }).pipe(
    Effect.provide(
      ProviderClient.layer({
        providerDirs: [dir],
        maxCallRecvMsgSize: 4 * 1024 * 1024,
        maxProviderFiles: 10_000,
        providerTimeout: "5 seconds",
        healthCheck: false,
        healthCheckInterval: "2 minutes",
        retryBaseDelay: "10 millis"
      })
    )
  )

const text = (contents: Uint8Array) => Buffer.from(contents).toString("utf8")

describe("reference provider", () => {
  it.live("serves the objects the parameters name, with fileName and mode", () =>
    Effect.gen(function* () {
      const { dir } = yield* setup()
      const result = yield* withClient(dir, (client) =>
        client.mount(
          "reference",
          mountRequest('- objectName: db-password\n  fileName: db/password\n  mode: "0400"\n- objectName: tls-cert\n')
        )
      )
      assert.deepStrictEqual(result.objectVersions, [
        { id: "secret/db-password", version: "3" },
        { id: "secret/tls-cert", version: "v7" }
      ])
      assert.deepStrictEqual(
        result.files.map((f) => [f.path, f.mode, text(f.contents)]),
        [
          ["db/password", 0o400, "s3cret"],
          ["tls-cert", 0o600, "cert"]
        ]
      )
    })
  )

  it.live("uses the request's permission when neither the parameter nor the store sets a mode", () =>
    Effect.gen(function* () {
      const { dir } = yield* setup()
      const result = yield* withClient(dir, (client) =>
        client.mount("reference", mountRequest("- objectName: db-password"))
      )
      assert.strictEqual(result.files[0]!.mode, 420)
    })
  )

  it.live("accepts the Azure-style `array:` form of objects", () =>
    Effect.gen(function* () {
      const { dir } = yield* setup()
      const result = yield* withClient(dir, (client) =>
        client.mount("reference", mountRequest("array:\n  - |\n    objectName: db-password\n    fileName: pw\n"))
      )
      assert.deepStrictEqual(
        result.files.map((f) => f.path),
        ["pw"]
      )
    })
  )

  it.live("answers NOT_FOUND naming a missing object, and keeps serving", () =>
    Effect.gen(function* () {
      const { dir } = yield* setup()
      yield* withClient(dir, (client) =>
        Effect.gen(function* () {
          const error = yield* Effect.flip(client.mount("reference", mountRequest("- objectName: nope")))
          assert.strictEqual(error.reason, "ProviderError")
          assert.strictEqual(error.grpcStatus, "NOT_FOUND")
          assert.include(error.message, 'object "nope" not found')
          const again = yield* client.mount("reference", mountRequest("- objectName: db-password"))
          assert.strictEqual(again.files.length, 1)
        })
      )
    })
  )

  it.live("reflects a changed store file on the next call", () =>
    Effect.gen(function* () {
      const { dir, storePath } = yield* setup()
      yield* withClient(dir, (client) =>
        Effect.gen(function* () {
          const before = yield* client.mount("reference", mountRequest("- objectName: db-password"))
          assert.strictEqual(text(before.files[0]!.contents), "s3cret")
          fs.writeFileSync(storePath, JSON.stringify({ "db-password": { contents: "rotated", version: "4" } }))
          const after = yield* client.mount("reference", mountRequest("- objectName: db-password"))
          assert.strictEqual(text(after.files[0]!.contents), "rotated")
          assert.deepStrictEqual(after.objectVersions, [{ id: "secret/db-password", version: "4" }])
        })
      )
    })
  )

  it.live("answers Version with the protocol, its name and its version", () =>
    Effect.gen(function* () {
      const { dir } = yield* setup()
      const channel = createChannel(`unix://${socketPath(dir, "reference")}`)
      yield* Effect.addFinalizer(() => Effect.sync(() => channel.close()))
      const client = createClient(CSIDriverProviderDefinition, channel)
      const version = yield* Effect.promise(() => client.version({ version: "v1alpha1" }))
      assert.deepStrictEqual(version, {
        version: "v1alpha1",
        runtimeName: "secrets-store-reference-provider",
        runtimeVersion: "9.9.9"
      })
    })
  )

  it.live("refuses attributes, secrets or permission that are not JSON with INVALID_ARGUMENT", () =>
    Effect.gen(function* () {
      const { dir } = yield* setup()
      const channel = createChannel(`unix://${socketPath(dir, "reference")}`)
      yield* Effect.addFinalizer(() => Effect.sync(() => channel.close()))
      const client = createClient(CSIDriverProviderDefinition, channel)
      const good = mountRequest("- objectName: db-password")
      for (const bad of [
        { attributes: "{nope" },
        { secrets: "" },
        { permission: "0644" },
        { attributes: '{"x":"y"}' }
      ]) {
        const error = yield* Effect.flip(Effect.tryPromise(() => client.mount({ ...good, ...bad })))
        assert.include(String(error.cause), "INVALID_ARGUMENT", JSON.stringify(bad))
      }
    })
  )

  // The listening code the CSI server uses, with its deep backlog: grpc-js's own listen queues only 511.
  it.live(
    "accepts 1,000 simultaneous connections, each its own channel: none is refused",
    () =>
      Effect.gen(function* () {
        const { dir } = yield* setup()
        const clients = Array.from({ length: 1_000 }, () =>
          createChannel(`unix://${socketPath(dir, "reference")}`, undefined, { "grpc.use_local_subchannel_pool": 1 })
        )
        yield* Effect.addFinalizer(() => Effect.sync(() => clients.forEach((channel) => channel.close())))
        const codes = yield* Effect.promise(() =>
          Promise.all(
            clients.map((channel) =>
              createClient(CSIDriverProviderDefinition, channel)
                .version({})
                .then(
                  () => "OK",
                  (error: unknown) => (error instanceof ClientError ? Status[error.code] : String(error))
                )
            )
          )
        )
        const counts: Record<string, number> = {}
        for (const code of codes) counts[code] = (counts[code] ?? 0) + 1
        assert.deepStrictEqual(counts, { OK: 1_000 })
      }),
    120_000
  )

  it.live("removes its socket when its scope closes", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* Effect.scoped(
        setup(dir).pipe(Effect.tap(() => Effect.sync(() => assert.isTrue(fs.existsSync(socketPath(dir, "reference"))))))
      )
      assert.isTrue(fs.existsSync(path.join(dir, "store.yaml")))
      assert.isFalse(fs.existsSync(socketPath(dir, "reference")))
    })
  )
})

describe("store modes", () => {
  it("reads numbers as decimal and 0-prefixed strings as octal", () => {
    assert.strictEqual(parseMode(420), 0o644)
    assert.strictEqual(parseMode("0644"), 0o644)
    assert.strictEqual(parseMode("0o600"), 0o600)
    assert.strictEqual(parseMode("420"), 0o644)
    assert.isUndefined(parseMode("0999"))
    assert.isUndefined(parseMode(1000))
    assert.isUndefined(parseMode("rw-r--r--"))
  })
})
