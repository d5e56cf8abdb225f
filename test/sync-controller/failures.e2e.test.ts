// End to end: each failure gives its typed condition and a Warning Event on the SecretSync (typed reason leading,
// never a value), and leaves the existing Secret untouched; a service-account-token Secret is refused.
import { afterEach, describe, expect, it } from "vitest"
import { eventually } from "../support/ChildProcess.js"
import { conditionOf, editObject, eventsFor, ns, secretOf, secretSync, spc, startWorld, type World } from "./world.js"

let world: World | undefined
afterEach(async () => {
  await world?.close()
  world = undefined
})

const failedWith = async (w: World, reason: string, lead: string) => {
  const condition = await eventually(() => {
    const c = conditionOf(w.api, "db", "SecretUpdated")
    if (c?.["reason"] !== reason) throw new Error(`SecretUpdated is ${JSON.stringify(c)}`)
    return c
  }, 30_000)
  expect(condition["status"]).toBe("False")
  expect(condition["message"]!.startsWith(`${lead}: `)).toBe(true)
  const event = await eventually(() => {
    const e = eventsFor(w.api, "db").find((x) => x["reason"] === reason && String(x["message"]).startsWith(`${lead}: `))
    if (e === undefined) throw new Error(`no ${reason} event`)
    return e
  }, 30_000)
  expect(event["type"]).toBe("Warning")
  expect(event["involvedObject"]).toMatchObject({
    kind: "SecretSync",
    apiVersion: "secret-sync.x-k8s.io/v1alpha1",
    name: "db",
    namespace: ns
  })
  expect(String(event["message"])).not.toContain("pw1")
  return condition
}

const editSpec = (w: World, patch: Record<string, unknown>) =>
  editObject(w.api, "SecretSync", "db", (o) => ({ ...o, spec: { ...(o["spec"] as object), ...patch } }))

describe("secrets-store-sync-controller failures (built, end to end)", () => {
  it("missing sourcePath, provider error, no SPC, dead provider: typed condition, Event, Secret kept", async () => {
    const w = (world = await startWorld())
    w.api.seed(spc())
    w.api.seed(secretSync("db"))
    await w.startController()
    const first = await eventually(() => secretOf(w.api, "db") ?? Promise.reject(new Error("no secret")), 20_000)
    await eventually(() => expect(conditionOf(w.api, "db", "SecretUpdated")?.["status"]).toBe("True"), 20_000)
    const untouched = () =>
      expect(secretOf(w.api, "db")!.metadata["resourceVersion"]).toBe(first.metadata["resourceVersion"])

    const data = [
      { sourcePath: "username", targetKey: "user" },
      { sourcePath: "nope", targetKey: "pass" }
    ]
    editSpec(w, { secretObject: { type: "Opaque", labels: { team: "payments" }, data } })
    const missing = await failedWith(w, "RemoteSecretStoreFetchFailed", "InvalidRequest")
    expect(missing["message"]).toContain("sourcePath nope")
    untouched()

    editSpec(w, {
      secretObject: {
        type: "Opaque",
        labels: { team: "payments" },
        data: [{ sourcePath: "username", targetKey: "user" }]
      }
    })
    await eventually(() => expect(conditionOf(w.api, "db", "SecretUpdated")?.["status"]).toBe("True"), 20_000)
    const rewritten = secretOf(w.api, "db")!

    editObject(w.api, "SecretProviderClass", "ref", (o) => ({
      ...o,
      spec: { provider: "reference", parameters: { objects: "- objectName: absent\n" } }
    }))
    await failedWith(w, "ProviderError", "ProviderError")
    expect(secretOf(w.api, "db")!.metadata["resourceVersion"]).toBe(rewritten.metadata["resourceVersion"])

    editSpec(w, { secretProviderClassName: "gone" })
    const notFound = await failedWith(w, "SecretProviderClassMisconfigured", "SecretProviderClassNotFound")
    expect(notFound["message"]).toContain(`secretproviderclass ${ns}/gone`)

    editObject(w.api, "SecretProviderClass", "ref", (o) => ({ ...o, spec: spc().spec }))
    editSpec(w, { secretProviderClassName: "ref" })
    await eventually(() => expect(conditionOf(w.api, "db", "SecretUpdated")?.["status"]).toBe("True"), 20_000)
    const healthy = secretOf(w.api, "db")!
    // SIGKILL: the socket file stays, nobody answers (UNAVAILABLE, retried, then typed).
    await w.provider.stop("SIGKILL")
    editSpec(w, { forceSynchronization: "dead-provider" })
    const dead = await failedWith(w, "ProviderError", "ProviderUnavailable")
    expect(dead["message"]).toContain("reference")
    expect(secretOf(w.api, "db")!.metadata["resourceVersion"]).toBe(healthy.metadata["resourceVersion"])
  })

  it("a SecretSync of type kubernetes.io/service-account-token is refused and writes no Secret", async () => {
    const w = (world = await startWorld())
    w.api.seed(spc())
    w.api.seed(
      secretSync("db", {
        secretObject: {
          type: "kubernetes.io/service-account-token",
          data: [{ sourcePath: "username", targetKey: "token" }]
        }
      })
    )
    await w.startController()
    const condition = await eventually(() => {
      const c = conditionOf(w.api, "db", "SecretCreated")
      if (c?.["status"] !== "False") throw new Error(`SecretCreated is ${JSON.stringify(c)}`)
      return c
    }, 20_000)
    expect(condition["reason"]).toBe("SecretTypeNotAllowed")
    expect(condition["message"]).toMatch(/^InvalidRequest: .*kubernetes\.io\/service-account-token/)
    // Events are sent in the background: wait for it.
    await eventually(
      () => expect(eventsFor(w.api, "db").map((e) => e["reason"])).toContain("SecretTypeNotAllowed"),
      20_000
    )
    expect(secretOf(w.api, "db")).toBeUndefined()
    expect(w.api.requestsMatching({ method: "PATCH", path: `/api/v1/namespaces/${ns}/secrets/db` })).toEqual([])
  })
})
