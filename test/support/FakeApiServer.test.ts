// The fake API server seen through the real @kubernetes/client-node: if these pass, driver code that uses the
// client against the fake exercises the same wire behaviour as against a real API server.
import { describe, expect, it } from "@effect/vitest"
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch
} from "@kubernetes/client-node"
import { afterAll, beforeAll, beforeEach } from "vitest"
import { FakeApiServer } from "./FakeApiServer.js"

const group = "secrets-store.csi.x-k8s.io"
const spcps = { group, version: "v1", namespace: "default", plural: "secretproviderclasspodstatuses" }

let server: FakeApiServer
let custom: CustomObjectsApi
let core: CoreV1Api
let kc: KubeConfig

beforeAll(async () => {
  server = await FakeApiServer.start({ token: "t0ken" })
  kc = new KubeConfig()
  kc.loadFromFile(server.kubeconfigPath)
  custom = kc.makeApiClient(CustomObjectsApi)
  core = kc.makeApiClient(CoreV1Api)
})
afterAll(() => server.stop())
beforeEach(() => server.clearFaults())

const status = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: `${group}/v1`,
  kind: "SecretProviderClassPodStatus",
  metadata: { name, namespace: "default", labels },
  status: { podName: "p", mounted: true, objects: [] }
})

const apiError = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(e).toBeInstanceOf(ApiException)
  const ae = e as ApiException<unknown>
  return {
    code: ae.code,
    body: (typeof ae.body === "string" ? JSON.parse(ae.body) : ae.body) as Record<string, unknown>
  }
}

describe("FakeApiServer through client-node", () => {
  it("creates with uid, creationTimestamp and a resourceVersion, and sends the kubeconfig's token", async () => {
    const created = await custom.createNamespacedCustomObject({ ...spcps, body: status("create-1") })
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/)
    expect(created.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(0)
    const got = await custom.getNamespacedCustomObject({ ...spcps, name: "create-1" })
    expect(got.status.podName).toBe("p")
    expect(server.requestsMatching({ method: "POST" }).at(-1)?.authorization).toBe("Bearer t0ken")
  })

  it("answers 404 and 409 AlreadyExists with Status bodies like the real server", async () => {
    const missing = await apiError(custom.getNamespacedCustomObject({ ...spcps, name: "nope" }))
    expect(missing.code).toBe(404)
    expect(missing.body).toMatchObject({
      kind: "Status",
      status: "Failure",
      reason: "NotFound",
      code: 404,
      message: `secretproviderclasspodstatuses.${group} "nope" not found`
    })
    await custom.createNamespacedCustomObject({ ...spcps, body: status("dup") })
    const dup = await apiError(custom.createNamespacedCustomObject({ ...spcps, body: status("dup") }))
    expect(dup.code).toBe(409)
    expect(dup.body).toMatchObject({ reason: "AlreadyExists", details: { name: "dup", group } })
  })

  it("rejects an update with a stale resourceVersion (409 Conflict) and accepts the current one", async () => {
    const created = await custom.createNamespacedCustomObject({ ...spcps, body: status("upd") })
    const first = await custom.replaceNamespacedCustomObject({
      ...spcps,
      name: "upd",
      body: { ...created, status: { ...created.status, podName: "q" } }
    })
    expect(Number(first.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion))
    const stale = await apiError(custom.replaceNamespacedCustomObject({ ...spcps, name: "upd", body: created }))
    expect(stale.code).toBe(409)
    expect(stale.body).toMatchObject({ reason: "Conflict" })
    expect(stale.body["message"]).toContain("the object has been modified")
  })

  it("merge-patches labels and keeps the rest", async () => {
    await custom.createNamespacedCustomObject({ ...spcps, body: status("patch-me", { a: "1", b: "2" }) })
    const patched = await custom.patchNamespacedCustomObject(
      { ...spcps, name: "patch-me", body: { metadata: { labels: { b: null, c: "3" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
    )
    expect(patched.metadata.labels).toEqual({ a: "1", c: "3" })
    expect(patched.status.podName).toBe("p")
  })

  it("lists with equality label selectors and pods with a spec.nodeName field selector", async () => {
    await custom.createNamespacedCustomObject({ ...spcps, body: status("sel-1", { node: "n1", app: "x" }) })
    await custom.createNamespacedCustomObject({ ...spcps, body: status("sel-2", { node: "n2", app: "x" }) })
    const listed = await custom.listNamespacedCustomObject({ ...spcps, labelSelector: "node=n1,app=x" })
    expect(listed.items.map((o: { metadata: { name: string } }) => o.metadata.name)).toEqual(["sel-1"])
    server.seed({ kind: "Pod", metadata: { name: "on-n1", namespace: "ns1" }, spec: { nodeName: "n1" } })
    server.seed({ kind: "Pod", metadata: { name: "on-n2", namespace: "ns2" }, spec: { nodeName: "n2" } })
    const pods = await core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=n1" })
    expect(pods.items.map((p) => p.metadata?.name)).toEqual(["on-n1"])
  })

  it("serves v1alpha1 from the same store", async () => {
    await custom.createNamespacedCustomObject({ ...spcps, body: status("alpha") })
    const got = await custom.getNamespacedCustomObject({ ...spcps, version: "v1alpha1", name: "alpha" })
    expect(got.apiVersion).toBe(`${group}/v1alpha1`)
  })

  it("deleting a pod garbage-collects what it owns, like the real GC", async () => {
    const pod = server.seed({
      kind: "Pod",
      metadata: { name: "owner", namespace: "default" },
      spec: { nodeName: "n1" }
    })
    const owned = status("owned-by-pod")
    await custom.createNamespacedCustomObject({
      ...spcps,
      body: {
        ...owned,
        metadata: {
          ...owned.metadata,
          ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "owner", uid: pod.metadata["uid"] }]
        }
      }
    })
    await core.deleteNamespacedPod({ name: "owner", namespace: "default" })
    expect((await apiError(custom.getNamespacedCustomObject({ ...spcps, name: "owned-by-pod" }))).code).toBe(404)
  })

  it("delays matching responses", async () => {
    server.delay(300, { method: "GET", path: /\/pods$/ })
    const started = Date.now()
    await core.listNamespacedPod({ namespace: "default" })
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
  })

  it("injects failures for matching requests only, as many times as asked", async () => {
    server.failNext({ method: "GET", path: /\/secrets\/s1$/, status: 500, times: 2, message: "etcd is sad" })
    server.seed({ kind: "Secret", metadata: { name: "s1", namespace: "default" }, data: {} })
    for (let i = 0; i < 2; i++) {
      const e = await apiError(core.readNamespacedSecret({ name: "s1", namespace: "default" }))
      expect(e).toMatchObject({ code: 500, body: { reason: "InternalError", message: "etcd is sad" } })
    }
    expect((await core.readNamespacedSecret({ name: "s1", namespace: "default" })).metadata?.name).toBe("s1")
  })
})

interface Seen {
  readonly type: string
  readonly name: string
  readonly rv: string
}

/** Collects watch events until `count` arrived or the connection ends. */
const watchFor = (path: string, query: Record<string, string>, count: number) =>
  new Promise<{ events: Array<Seen>; error: unknown }>((resolve) => {
    const events: Array<Seen> = []
    let controller: AbortController | undefined
    void new Watch(kc)
      .watch(
        path,
        query,
        (type, obj: { metadata: { name: string; resourceVersion: string } }) => {
          events.push({ type, name: obj.metadata?.name, rv: obj.metadata?.resourceVersion })
          if (events.length >= count) controller?.abort()
        },
        (error) => resolve({ events, error })
      )
      .then((c) => (controller = c))
  })

describe("FakeApiServer list pages through client-node", () => {
  const spcs = { group, version: "v1", plural: "secretproviderclasses" }
  type Page = {
    metadata: { resourceVersion: string; continue?: string }
    items: Array<{ metadata: { namespace: string; name: string } }>
  }
  const page = async (query: { limit?: number; _continue?: string }) =>
    (await custom.listClusterCustomObject({ ...spcs, ...query })) as Page

  it("pages with limit/continue in namespace/name order at one resourceVersion; an expired token is 410", async () => {
    for (const [ns, name] of [
      ["pg-b", "x"],
      ["pg-a", "z"],
      ["pg-a", "y"]
    ]) {
      server.seed({
        apiVersion: `${group}/v1`,
        kind: "SecretProviderClass",
        metadata: { name, namespace: ns },
        spec: {}
      })
    }
    const first = await page({ limit: 2 })
    const second = await page({ limit: 2, _continue: first.metadata.continue! })
    const third =
      second.metadata.continue === undefined ? undefined : await page({ limit: 2, _continue: second.metadata.continue })
    const seen = [first, second, ...(third === undefined ? [] : [third])]
      .flatMap((p) => p.items)
      .map((o) => `${o.metadata.namespace}/${o.metadata.name}`)
      .filter((k) => k.startsWith("pg-"))
    expect(seen).toEqual(["pg-a/y", "pg-a/z", "pg-b/x"])
    expect(first.items).toHaveLength(2)
    expect(second.metadata.resourceVersion).toBe(first.metadata.resourceVersion)
    expect((await page({})).metadata.continue).toBeUndefined()
    server.seed({
      apiVersion: `${group}/v1`,
      kind: "SecretProviderClass",
      metadata: { name: "w", namespace: "pg-c" },
      spec: {}
    })
    server.store.compact()
    const expired = await page({ limit: 2, _continue: first.metadata.continue! }).catch((e: unknown) => e)
    expect((expired as ApiException<unknown>).code).toBe(410)
  })
})

describe("FakeApiServer watches through client-node", () => {
  const path = `/apis/${group}/v1/namespaces/watch-ns/secretproviderclasspodstatuses`
  const wStatus = (name: string) => ({ ...status(name), metadata: { name, namespace: "watch-ns" } })

  it("streams ADDED/MODIFIED/DELETED and resumes from a resourceVersion", async () => {
    const start = String(server.store.resourceVersion)
    const seen = watchFor(path, { resourceVersion: start }, 3)
    await new Promise((r) => setTimeout(r, 50))
    const a = await custom.createNamespacedCustomObject({ ...spcps, namespace: "watch-ns", body: wStatus("w1") })
    await custom.replaceNamespacedCustomObject({ ...spcps, namespace: "watch-ns", name: "w1", body: a })
    await custom.deleteNamespacedCustomObject({ ...spcps, namespace: "watch-ns", name: "w1" })
    const { events } = await seen
    expect(events.map((e) => `${e.type}:${e.name}`)).toEqual(["ADDED:w1", "MODIFIED:w1", "DELETED:w1"])
    // Resuming after the first event replays exactly the rest from history.
    const resumed = await watchFor(path, { resourceVersion: events[0]!.rv }, 2)
    expect(resumed.events.map((e) => e.type)).toEqual(["MODIFIED", "DELETED"])
  })

  it("drops connections after K events; the client resumes without losing any", async () => {
    const start = String(server.store.resourceVersion)
    for (const n of ["d1", "d2", "d3"])
      await custom.createNamespacedCustomObject({ ...spcps, namespace: "watch-ns", body: wStatus(n) })
    server.watch.dropAfter = 2
    try {
      const first = await watchFor(path, { resourceVersion: start }, 10)
      expect(first.events.map((e) => e.name)).toEqual(["d1", "d2"])
      const rest = await watchFor(path, { resourceVersion: first.events[1]!.rv }, 1)
      expect(rest.events.map((e) => e.name)).toEqual(["d3"])
    } finally {
      server.watch.dropAfter = undefined
    }
  })

  it("answers a resourceVersion older than the history with 410 Expired", async () => {
    const old = String(server.store.resourceVersion)
    await custom.createNamespacedCustomObject({ ...spcps, namespace: "watch-ns", body: wStatus("after-compaction") })
    server.store.compact()
    const asEvent = await watchFor(path, { resourceVersion: old }, 1)
    expect(asEvent.events).toEqual([{ type: "ERROR", name: undefined, rv: undefined }])
    server.watch.expiredAs = "status"
    try {
      const asStatus = await watchFor(path, { resourceVersion: old }, 1)
      expect((asStatus.error as { statusCode?: number }).statusCode).toBe(410)
    } finally {
      server.watch.expiredAs = "event"
    }
    // A watch without a resourceVersion starts from the current state.
    const fresh = await watchFor(path, {}, 1)
    expect(fresh.events[0]).toMatchObject({ type: "ADDED" })
  })
})
