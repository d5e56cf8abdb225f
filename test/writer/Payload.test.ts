// The path and mode rules of a provider payload (docs/upstream.md#file-path-rules, plus range-checked modes): each
// hostile case is rejected with InvalidProviderResponse naming the JSON-quoted path and never the contents.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { ProviderFile } from "../../src/domain/ProviderFile.js"
import {
  checkFits,
  MAX_DIRECTORIES,
  tmpfsFootprint,
  validatePayload,
  validatePayloadResult
} from "../../src/writer/Payload.js"
import { hostile, path4096, payload, providerFile as file, SECRET } from "./fixtures.js"

describe("validatePayload", () => {
  for (const [name, files, why] of hostile) {
    it(`rejects ${name}`, () => {
      const result = validatePayloadResult(files)
      assert.isTrue(Result.isFailure(result))
      if (!Result.isFailure(result)) return
      const error = result.failure
      assert.strictEqual(error._tag, "PayloadError")
      assert.strictEqual(error.reason, "InvalidProviderResponse")
      assert.include(error.message, why)
      assert.include(error.message, JSON.stringify(error.path).slice(0, 100))
      assert.notInclude(error.message, SECRET)
    })
  }

  const valid: ReadonlyArray<readonly [string, ReadonlyArray<ProviderFile>]> = [
    ["plain name", [file("a")]],
    ["nested", [file("dir/b.txt")]],
    ["dot file", [file(".hidden")]],
    ["dots inside a name", [file("a..b")]],
    ["dots inside a nested name", [file("d/..e"), file("d/.f")]],
    ["mode 0", [file("a", 0)]],
    ["mode 0777", [file("a", 0o777)]],
    ["255-byte element", [file("n".repeat(255))]],
    ["4096-byte path", [file(path4096)]],
    ["siblings sharing a directory", [file("d/a"), file("d/b"), file("d/e/f")]],
    ["prefix names that are not parents", [file("a"), file("ab/c"), file("a.b")]],
    ["no files", []]
  ]
  for (const [name, files] of valid) {
    it(`accepts ${name}`, () => {
      const result = validatePayloadResult(files)
      assert.isTrue(Result.isSuccess(result), Result.isFailure(result) ? result.failure.message : "")
      if (!Result.isSuccess(result)) return
      assert.deepStrictEqual(result.success.files, files)
    })
  }

  it("lists each top-level name once", () => {
    const result = validatePayloadResult([file("d/a"), file("x"), file("d/e/f"), file(".h")])
    assert.isTrue(Result.isSuccess(result))
    if (Result.isSuccess(result)) assert.deepStrictEqual([...result.success.topLevel].sort(), [".h", "d", "x"])
  })

  it("lists every directory once, parents before children, for writeTree", () => {
    const result = validatePayloadResult([file("d/e/f"), file("d/a"), file("x/y/z/w"), file("d/e/g/h"), file("top")])
    assert.isTrue(Result.isSuccess(result))
    if (Result.isSuccess(result))
      assert.deepStrictEqual(result.success.dirs, ["d", "d/e", "x", "x/y", "x/y/z", "d/e/g"])
  })

  it(`refuses a payload of more than ${MAX_DIRECTORIES} directories, naming the file that crossed the line`, () => {
    // 999 directories per file (`b<i>` and 998 `a`s below it), shared by none: the 11th file crosses 10,000.
    const deep = (i: number) => `${"a/".repeat(999)}f`.replace(/^a/, `b${i}`)
    const result = validatePayloadResult(Array.from({ length: 16 }, (_, i) => file(deep(i))))
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) {
      assert.include(result.failure.message, `more than ${MAX_DIRECTORIES} directories`)
      assert.strictEqual(result.failure.path, deep(10))
    }
    const within = validatePayloadResult(Array.from({ length: 10 }, (_, i) => file(deep(i))))
    assert.isTrue(Result.isSuccess(within))
    if (Result.isSuccess(within)) assert.strictEqual(within.success.dirs.length, 9_990)
  })

  it("quotes odd bytes and cuts very long paths in messages", () => {
    const odd = validatePayloadResult([file("a\nb/../c")])
    assert.isTrue(Result.isFailure(odd))
    if (Result.isFailure(odd)) assert.include(odd.failure.message, '"a\\nb/../c"')
    const long = validatePayloadResult([file(`${path4096}q`)])
    assert.isTrue(Result.isFailure(long))
    if (Result.isFailure(long)) {
      assert.isBelow(long.failure.message.length, 300)
      assert.include(long.failure.message, "(4097 bytes)")
      assert.strictEqual(long.failure.path, `${path4096}q`)
    }
  })

  it.effect("the Effect form fails with the same PayloadError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(validatePayload([file("ok"), file("../x")]))
      assert.strictEqual(error._tag, "PayloadError")
      assert.strictEqual(error.path, "../x")
      const ok = yield* validatePayload([file("ok")])
      assert.deepStrictEqual(ok.topLevel, ["ok"])
    })
  )
})

describe("checkFits: the payload against --tmpfs-size-limit", () => {
  const pages = (n: number, extra = 0) => "x".repeat(n * 4096 + extra)

  it("counts each file's bytes in whole 4 KiB pages, an empty file as none", () => {
    assert.strictEqual(tmpfsFootprint(payload({ a: "", b: "1", c: pages(1), d: pages(1, 1) })), 4096 * 4)
  })

  it.effect("a payload at the limit passes, one page over fails with InvalidProviderResponse naming the volume", () =>
    Effect.gen(function* () {
      yield* checkFits(payload({ a: pages(2), "d/b": pages(2) }), 4 * 4096, "volume v (SecretProviderClass ns/spc)")
      const error = yield* Effect.flip(
        checkFits(payload({ a: pages(2), "d/b": pages(2, 1) }), 4 * 4096, "volume v (SecretProviderClass ns/spc)")
      )
      assert.strictEqual(error.reason, "InvalidProviderResponse")
      assert.include(error.message, "volume v (SecretProviderClass ns/spc)")
      assert.include(error.message, "20480 bytes")
      assert.include(error.message, "--tmpfs-size-limit=16384")
      assert.notInclude(error.message, "xxxx")
    })
  )

  it.effect("a limit of 0 accepts anything", () => checkFits(payload({ a: pages(64) }), 0, "volume v"))
})
