// End to end: a hostile payload arriving for a target that already holds good content is rejected as a
// whole; the target stays byte-identical and nothing appears anywhere under the temp root.
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { AtomicWriter } from "../../src/writer/AtomicWriter.js"
import { validatePayload } from "../../src/writer/Payload.js"
import { hostile, listing, payload, providerFile, SECRET, tempDir } from "./fixtures.js"

describe("hostile payloads end to end", () => {
  for (const [name, files] of hostile) {
    it.live(`${name}: rejected, previous content intact, nothing new inside or outside`, () =>
      Effect.gen(function* () {
        const root = yield* tempDir()
        const target = path.join(root, "pod", "volumes", "target")
        yield* Effect.promise(() => import("node:fs/promises").then((fs) => fs.mkdir(target, { recursive: true })))
        const writer = yield* AtomicWriter
        yield* writer.write(target, payload({ a: "good", x: "good", "dir/b": ["good", 0o600] }))
        const before = yield* Effect.promise(() => listing(root))

        // A good file first: validation is total, so it must not be written either.
        const error = yield* Effect.flip(
          validatePayload([providerFile("fresh"), ...files]).pipe(
            Effect.flatMap((valid) => writer.write(target, valid))
          )
        )
        assert.strictEqual(error._tag, "PayloadError")
        assert.strictEqual(error.reason, "InvalidProviderResponse")
        assert.notInclude(error.message, SECRET)
        assert.deepStrictEqual(yield* Effect.promise(() => listing(root)), before)
      }).pipe(Effect.provide(AtomicWriter.layer))
    )
  }
})
