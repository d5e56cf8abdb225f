import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { findProviderSocket, isValidProviderName, socketPath } from "../../src/provider/providerSocket.js"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "provider-dir-"))
const touch = (dir: string, name: string) => fs.writeFileSync(socketPath(dir, name), "")

describe("provider names", () => {
  it("accepts letters, digits, '_' and '-' up to 30 characters", () => {
    for (const name of ["azure", "gcp", "vault_1", "e2e-provider", "a".repeat(30), ""]) {
      assert.isTrue(isValidProviderName(name), name)
    }
  })

  it("rejects path tricks, spaces, long names and other characters", () => {
    for (const name of ["../x", "a/b", "a b", "a".repeat(31), "x.sock", "provider\n", "ümlaut"]) {
      assert.isFalse(isValidProviderName(name), name)
    }
  })
})

describe("findProviderSocket", () => {
  it.live("prefers an additional directory over the provider volume", () =>
    Effect.gen(function* () {
      const additional = tempDir()
      const volume = tempDir()
      touch(additional, "azure")
      touch(volume, "azure")
      const found = yield* findProviderSocket([additional, volume], "azure")
      assert.strictEqual(Option.getOrThrow(found).path, path.join(additional, "azure.sock"))
    })
  )

  it.live("falls back to the provider volume", () =>
    Effect.gen(function* () {
      const additional = tempDir()
      const volume = tempDir()
      touch(volume, "vault")
      const found = yield* findProviderSocket([additional, path.join(additional, "missing"), volume], "vault")
      assert.strictEqual(Option.getOrThrow(found).path, path.join(volume, "vault.sock"))
    })
  )

  it.live("is None when no directory has the socket", () =>
    Effect.gen(function* () {
      const found = yield* findProviderSocket([tempDir(), tempDir()], "gcp")
      assert.isTrue(Option.isNone(found))
    })
  )

  it.live("gives a replaced socket file a different identity", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      touch(dir, "p")
      const before = Option.getOrThrow(yield* findProviderSocket([dir], "p"))
      fs.rmSync(before.path)
      touch(dir, "p")
      const after = Option.getOrThrow(yield* findProviderSocket([dir], "p"))
      assert.notStrictEqual(after.identity, before.identity)
    })
  )
})
