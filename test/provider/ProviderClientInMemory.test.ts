import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { encodeMountRequest } from "../../src/provider/MountRequestEncoding.js"
import { providerErrorCode } from "../../src/provider/ProviderCallError.js"
import { InMemoryProviders, ProviderClient } from "../../src/provider/ProviderClient.js"

const request = encodeMountRequest({ parameters: { a: "1" }, volumeContext: {}, secrets: Redacted.make({}), targetPath: "/t" })
const ok = { objectVersions: [{ id: "secret/a", version: "1" }], files: [] }

describe("ProviderClient.layerInMemory", () => {
  it.effect("answers from its table and records every request", () =>
    Effect.gen(function*() {
      const client = yield* ProviderClient
      const control = yield* InMemoryProviders
      assert.deepStrictEqual(yield* client.mount("good", request), ok)
      const failed = yield* Effect.flip(client.mount("bad", request))
      assert.strictEqual(failed.providerCode, "Denied")
      const dynamic = yield* client.mount("echo", request)
      assert.strictEqual(dynamic.objectVersions[0]!.version, request.attributes)
      const missing = yield* Effect.flip(client.mount("absent", request))
      assert.strictEqual(missing.reason, "ProviderNotFound")
      const invalid = yield* Effect.flip(client.mount("../x", request))
      assert.strictEqual(invalid.reason, "ProviderNotFound")
      assert.deepStrictEqual((yield* control.requests).map((r) => r.provider), ["good", "bad", "echo", "absent", "../x"])
      yield* control.set("absent", ok)
      assert.deepStrictEqual(yield* client.mount("absent", request), ok)
    }).pipe(Effect.provide(ProviderClient.layerInMemory({
      good: ok,
      bad: providerErrorCode("bad", "Denied"),
      echo: (req) => Effect.succeed({ objectVersions: [{ id: "secret/echo", version: req.attributes }], files: [] })
    }))))

  it.effect("starts each layer build with fresh recordings", () =>
    Effect.gen(function*() {
      const control = yield* InMemoryProviders
      assert.deepStrictEqual(yield* control.requests, [])
    }).pipe(Effect.provide(ProviderClient.layerInMemory({ good: ok }))))
})
