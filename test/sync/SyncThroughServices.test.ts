// Secret sync reads a volume only through the Mounter and AtomicWriter it is given: with both in memory (no tmpfs,
// no file on disk), the Secret is still built from what the writer holds at the target.
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs/promises"
import { Mounter } from "../../src/mount/Mounter.js"
import { AtomicWriter } from "../../src/writer/AtomicWriter.js"
import { validatePayload } from "../../src/writer/Payload.js"
import { decoded, eventually, secretOf, seedPod, seedSpc, seedStatus, targetPathFor, uidOf, world } from "./fixtures.js"

describe("SecretSync reads through its services", () => {
  it.live("builds the Secret from the in-memory writer's files at a target the in-memory Mounter mounted", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const pod = seedPod(w.server, "web-0")
        const secretObject = { secretName: "app-secret", type: "Opaque", data: [{ objectName: "user", key: "u" }] }
        seedSpc(w.server, "spc1", [secretObject])
        const target = targetPathFor(w.root, uidOf(pod))
        const volumes = yield* Layer.build(Layer.mergeAll(Mounter.layerInMemory, AtomicWriter.layerInMemory))
        yield* Effect.promise(() => fs.mkdir(target, { recursive: true }))
        yield* Context.get(volumes, Mounter).mountTmpfs(target)
        const payload = yield* validatePayload([{ path: "user", mode: 0o644, contents: Buffer.from("in-memory") }])
        yield* Context.get(volumes, AtomicWriter).write(target, payload)
        seedStatus(w.server, pod, "spc1", target)
        yield* w.start({}, Layer.succeedContext(volumes))
        const secret = yield* eventually("the secret", () => secretOf(w.server, "app-secret"))
        assert.strictEqual(decoded(secret, "u"), "in-memory")
        assert.deepStrictEqual(w.failures, [])
      })
    )
  )
})
