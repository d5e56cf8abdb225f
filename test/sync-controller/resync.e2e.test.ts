// End to end: what makes the controller sync again, and how often. An SPC edit and a forceSynchronization bump each
// call the provider once; a deleted or hand-edited Secret is restored by the re-apply without a provider call;
// the poll picks up a store change; deleting the SecretSync leaves the Secret to garbage collection.
import * as fs from "node:fs"
import { afterEach, describe, expect, it } from "vitest"
import { eventually } from "../support/ChildProcess.js"
import { resourceByKind } from "../support/FakeApiStore.js"
import { route } from "../support/FakeApiRoutes.js"
import {
  decodedData,
  editObject,
  getObject,
  metricsOf,
  metricSum,
  ns,
  providerCalls,
  secretOf,
  secretSync,
  spc,
  startWorld,
  storeYaml,
  type World
} from "./world.js"

let world: World | undefined
afterEach(async () => {
  await world?.close()
  world = undefined
})

const waitFor = <A>(what: string, check: () => A | undefined) =>
  eventually(() => check() ?? Promise.reject(new Error(`waiting for ${what}`)), 20_000)

describe("secrets-store-sync-controller re-syncs (built, end to end)", () => {
  it("SPC edit and forceSynchronization each re-sync once; deleted and hand-edited Secrets come back", async () => {
    const w = (world = await startWorld())
    fs.writeFileSync(w.storePath, storeYaml("pw1", 'db-password-v2:\n  contents: pw2\n  version: "1"\n'))
    w.api.seed(spc())
    w.api.seed(secretSync("db"))
    const c = await w.startController()
    await waitFor("the secret", () => secretOf(w.api, "db"))
    await eventually(async () => expect(await providerCalls(c)).toBe(1), 20_000)

    // An SPC edit re-syncs at once (upstream waits for the next poll).
    editObject(w.api, "SecretProviderClass", "ref", (o) => ({
      ...o,
      spec: {
        provider: "reference",
        parameters: {
          objects:
            "- objectName: db-username\n  fileName: username\n- objectName: db-password-v2\n  fileName: password\n"
        }
      }
    }))
    await waitFor("the new password", () => decodedData(secretOf(w.api, "db"))["pass"] === "pw2" || undefined)
    await eventually(async () => expect(await providerCalls(c)).toBe(2), 20_000)

    // A deleted Secret is re-applied from memory: no provider call.
    const uidBefore = secretOf(w.api, "db")!.metadata["uid"]
    w.api.store.delete(resourceByKind("Secret")!, ns, "db")
    const restored = await waitFor("the restored secret", () => secretOf(w.api, "db"))
    expect(restored.metadata["uid"]).not.toBe(uidBefore)
    expect(decodedData(restored)).toEqual({ user: "app", pass: "pw2" })

    // A hand edit (another field manager) is taken back: a forced apply, this Secret's uid as precondition.
    const reply = route(
      w.api.store,
      "PATCH",
      {
        resource: resourceByKind("Secret")!,
        version: "v1",
        namespace: ns,
        name: "db"
      },
      new URLSearchParams({ fieldManager: "kubectl-edit" }),
      { data: { pass: Buffer.from("hacked").toString("base64") } },
      "application/merge-patch+json"
    )
    expect(reply.status).toBe(200)
    await waitFor("the edit undone", () => decodedData(secretOf(w.api, "db"))["pass"] === "pw2" || undefined)
    expect(await providerCalls(c)).toBe(2)

    // forceSynchronization: one more provider call and a new hash.
    const hashBefore = (getObject(w.api, "SecretSync", "db")!["status"] as { syncHash: string }).syncHash
    editObject(w.api, "SecretSync", "db", (o) => ({
      ...o,
      spec: { ...(o["spec"] as object), forceSynchronization: "2024-01-02" }
    }))
    await eventually(async () => expect(await providerCalls(c)).toBe(3), 20_000)
    await waitFor(
      "a new hash",
      () =>
        (getObject(w.api, "SecretSync", "db")!["status"] as { syncHash: string }).syncHash !== hashBefore || undefined
    )
    // Metrics are recorded just after the writes the test saw: wait for them.
    await eventually(async () => {
      const metrics = await metricsOf(c)
      expect(
        metricSum(metrics, "secretsync_secret_apply_total", `trigger="reapply"`, `result="changed"`)
      ).toBeGreaterThanOrEqual(2)
      expect(metricSum(metrics, "secretsync_sync_total", `result="success"`)).toBe(3)
    }, 20_000)
  })

  it("the poll picks up a store change; a deleted SecretSync's Secret goes with it and is not re-applied", async () => {
    const w = (world = await startWorld())
    w.api.seed(spc())
    w.api.seed(secretSync("db"))
    const c = await w.startController(["--rotation-poll-interval=2s"])
    await waitFor("the secret", () => secretOf(w.api, "db"))
    fs.writeFileSync(w.storePath, storeYaml("rotated"))
    await waitFor("the rotated password", () => decodedData(secretOf(w.api, "db"))["pass"] === "rotated" || undefined)

    w.api.store.delete(resourceByKind("SecretSync")!, ns, "db")
    expect(secretOf(w.api, "db")).toBeUndefined()
    // A second SecretSync shows the controller is alive and re-applying; the deleted one's Secret stays gone.
    w.api.seed(secretSync("other"))
    await waitFor("the other secret", () => secretOf(w.api, "other"))
    const reapplies = async () => metricSum(await metricsOf(c), "secretsync_secret_apply_total", `trigger="reapply"`)
    const start = await reapplies()
    await eventually(async () => expect(await reapplies()).toBeGreaterThanOrEqual(start + 2), 20_000)
    expect(secretOf(w.api, "db")).toBeUndefined()
  })
})
