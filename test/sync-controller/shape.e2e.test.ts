// End to end: the built controller, the built reference provider and the fake API server. A SecretSync produces
// its Secret with upstream's exact shape, through server-side apply, with one token per audience.
import { afterEach, describe, expect, it } from "vitest"
import { eventually } from "../support/ChildProcess.js"
import { conditionOf, decodedData, getObject, ns, secretOf, secretSync, spc, startWorld, type World } from "./world.js"

let world: World | undefined
afterEach(async () => {
  await world?.close()
  world = undefined
})

describe("secrets-store-sync-controller (built, end to end)", () => {
  it("a SecretSync produces its Secret: name, type, data, label, one owner, SSA field manager, tokens", async () => {
    const w = (world = await startWorld())
    w.api.seed(spc())
    const ss = w.api.seed(secretSync("db"))
    await w.startController()
    const secret = await eventually(() => secretOf(w.api, "db") ?? Promise.reject(new Error("no secret")), 20_000)
    expect(secret["type"]).toBe("Opaque")
    expect(decodedData(secret)).toEqual({ user: "app", pass: "pw1" })
    expect(secret.metadata["labels"]).toEqual({ team: "payments", "secrets-store.sync.x-k8s.io": "" })
    expect(secret.metadata["ownerReferences"]).toEqual([
      { apiVersion: "secret-sync.x-k8s.io/v1alpha1", kind: "SecretSync", name: "db", uid: ss.metadata["uid"] }
    ])
    expect(secret.metadata["finalizers"]).toBeUndefined()
    const applies = w.api.requestsMatching({ method: "PATCH", path: `/api/v1/namespaces/${ns}/secrets/db` })
    expect(applies.length).toBeGreaterThan(0)
    for (const a of applies) {
      expect(a.contentType).toBe("application/apply-patch+yaml")
      expect(a.query["fieldManager"]).toBe("secrets-store-sync-controller")
    }
    // Never a read of Secrets: RBAC gives create and patch only.
    expect(w.api.requests.filter((q) => q.method === "GET" && /\/secrets(\/|$)/.test(q.path))).toEqual([])
    // One TokenRequest per audience (the global one and the provider's own, not "other"'s), 600 s, one audience.
    const tokens = w.api.requestsMatching({
      method: "POST",
      path: `/api/v1/namespaces/${ns}/serviceaccounts/app/token`
    })
    expect(tokens.map((t) => (t.body as { spec: unknown }).spec)).toEqual([
      { audiences: ["aud-all"], expirationSeconds: 600 },
      { audiences: ["aud-ref"], expirationSeconds: 600 }
    ])
    await eventually(() => expect(conditionOf(w.api, "db", "SecretUpdated")?.["status"]).toBe("True"), 20_000)
    expect(conditionOf(w.api, "db", "SecretCreated")).toMatchObject({
      status: "True",
      reason: "CreateSuccessful",
      message: "Secret created successfully."
    })
    const status = getObject(w.api, "SecretSync", "db")!["status"] as Record<string, unknown>
    expect(String(status["syncHash"])).toMatch(/^v2:[0-9a-f]{64}$/)
    expect(status["lastSuccessfulSyncTime"]).toMatch(/Z$/)
  })
})
