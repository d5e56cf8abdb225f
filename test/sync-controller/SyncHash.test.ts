// The syncHash rule: it changes exactly when the data, the SPC's uid or generation, the SecretSync's uid or
// generation, or forceSynchronization change, and it never shows the data.
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { type HashInputs, makeSyncHasher } from "../../src/sync-controller/SyncHash.js"

const base: HashInputs = {
  data: { user: Buffer.from("app").toString("base64"), pass: Buffer.from("pw").toString("base64") },
  spcUid: "spc-1",
  spcGeneration: 1,
  ssUid: "ss-1",
  ssGeneration: 1,
  forceSynchronization: ""
}
const hashOf = (inputs: HashInputs) => Effect.runPromise(makeSyncHasher().hash("k", inputs))

describe("syncHash", () => {
  it("is stable for the same inputs, whatever the key order of the data", async () => {
    const h = await hashOf(base)
    expect(h).toMatch(/^v2:[0-9a-f]{64}$/)
    expect(await hashOf({ ...base, data: { pass: base.data["pass"]!, user: base.data["user"]! } })).toBe(h)
    expect(h).not.toContain(base.data["pass"])
  })
  it.each<[string, Partial<HashInputs>]>([
    ["a data value", { data: { ...base.data, pass: "cHcy" } }],
    ["a data key", { data: { user: base.data["user"]!, pass2: base.data["pass"]! } }],
    ["the SPC uid", { spcUid: "spc-2" }],
    ["the SPC generation", { spcGeneration: 2 }],
    ["the SecretSync uid", { ssUid: "ss-2" }],
    ["the SecretSync generation", { ssGeneration: 2 }],
    ["forceSynchronization", { forceSynchronization: "2024-01-01" }]
  ])("changes with %s", async (_, change) => {
    expect(await hashOf({ ...base, ...change })).not.toBe(await hashOf(base))
  })
  it("a hasher reuses the last hash of a key while its inputs are unchanged", async () => {
    const hasher = makeSyncHasher()
    const a = await Effect.runPromise(hasher.hash("k", base))
    expect(await Effect.runPromise(hasher.hash("k", base))).toBe(a)
    expect(await Effect.runPromise(hasher.hash("k", { ...base, ssGeneration: 3 }))).not.toBe(a)
  })
})
