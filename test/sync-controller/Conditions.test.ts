// Condition transitions of the newer upstream scheme, without its stale-failure bug.
import { describe, expect, it } from "vitest"
import { CREATED_MESSAGE, nextConditions, UP_TO_DATE_MESSAGE } from "../../src/sync-controller/Conditions.js"
import type { Condition } from "../../src/domain/SecretSync.js"

const at = (now: string, generation = 1) => ({ now, generation })
const failed = {
  _tag: "Failed",
  reason: "ProviderError",
  condition: "ProviderError",
  message: 'provider "x": boom'
} as const
const byType = (cs: ReadonlyArray<Condition>) => Object.fromEntries(cs.map((c) => [c.type, c]))

describe("SecretSync conditions", () => {
  it("first success: SecretCreated and SecretUpdated True with upstream's reasons and messages", () => {
    const c = byType(nextConditions([], { _tag: "Synced" }, at("t1")))
    expect(c["SecretCreated"]).toMatchObject({
      status: "True",
      reason: "CreateSuccessful",
      message: CREATED_MESSAGE,
      lastTransitionTime: "t1"
    })
    expect(c["SecretUpdated"]).toMatchObject({
      status: "True",
      reason: "SecretUpToDate",
      message: UP_TO_DATE_MESSAGE,
      observedGeneration: 1
    })
  })
  it("a failure before the first create sets SecretCreated False, the typed reason leading the message", () => {
    const c = byType(nextConditions([], failed, at("t1")))
    expect(c["SecretCreated"]).toMatchObject({
      status: "False",
      reason: "ProviderError",
      message: 'ProviderError: provider "x": boom'
    })
    expect(c["SecretUpdated"]).toMatchObject({ status: "Unknown", reason: "NoUpdatesAttemptedYet" })
  })
  it("a failure after the create sets SecretUpdated False; the next success sets it True (no stale False)", () => {
    const ok = nextConditions([], { _tag: "Synced" }, at("t1"))
    const bad = nextConditions(ok, failed, at("t2", 2))
    expect(byType(bad)["SecretCreated"]).toMatchObject({ status: "True", lastTransitionTime: "t1" })
    expect(byType(bad)["SecretUpdated"]).toMatchObject({
      status: "False",
      lastTransitionTime: "t2",
      observedGeneration: 2
    })
    const healed = byType(nextConditions(bad, { _tag: "Synced" }, at("t3", 2)))
    expect(healed["SecretUpdated"]).toMatchObject({
      status: "True",
      reason: "SecretUpToDate",
      lastTransitionTime: "t3"
    })
  })
  it("lastTransitionTime stays while the status does not change; other condition types are kept", () => {
    const foreign: Condition = { type: "Ready", status: "True", reason: "X", message: "", lastTransitionTime: "t0" }
    const ok = nextConditions([foreign], { _tag: "Synced" }, at("t1"))
    const again = byType(nextConditions(ok, { _tag: "Synced" }, at("t9")))
    expect(again["SecretUpdated"]!.lastTransitionTime).toBe("t1")
    expect(again["Ready"]).toEqual(foreign)
  })
})
