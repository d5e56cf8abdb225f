// KubeApi: where the configuration comes from (pure table), raw requests and watches through client-node against
// the fake API server, and how Status answers and ERROR events become typed errors.
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { KubeApi, type KubeApiShape } from "../../src/k8s/KubeApi.js"
import { resolveKubeConfigSource, serviceAccountDir } from "../../src/k8s/KubeConfigSource.js"
import { fakeApiServer, type FakeApiServer } from "../support/FakeApiServer.js"

describe("resolveKubeConfigSource", () => {
  const token = nodePath.join(serviceAccountDir, "token")
  const exists = (...paths: Array<string>) => (p: string) => paths.includes(p)
  const inCluster = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" }
  it.each([
    { name: "flag wins over everything", flag: "/k", env: { KUBECONFIG: "/e", ...inCluster }, files: ["/e", token], expected: { _tag: "Files", origin: "flag", paths: ["/k"] } },
    { name: "KUBECONFIG (missing entries skipped)", flag: undefined, env: { KUBECONFIG: "/a:/b:/c", ...inCluster }, files: ["/a", "/c", token], expected: { _tag: "Files", origin: "KUBECONFIG", paths: ["/a", "/c"] } },
    { name: "in-cluster", flag: "", env: { KUBECONFIG: "/missing", ...inCluster }, files: [token], expected: { _tag: "InCluster", host: "10.0.0.1", port: "443", serviceAccountDir } },
    { name: "in-cluster needs the token file", flag: undefined, env: inCluster, files: [], expected: { _tag: "None" } },
    { name: "$HOME/.kube/config last", flag: undefined, env: { HOME: "/root" }, files: ["/root/.kube/config"], expected: { _tag: "Files", origin: "home", paths: ["/root/.kube/config"] } },
    { name: "nothing at all", flag: undefined, env: { HOME: "/root" }, files: [], expected: { _tag: "None" } }
  ])("$name", ({ flag, env, files, expected }) => {
    assert.deepStrictEqual(resolveKubeConfigSource({ kubeconfigFlag: flag, env, fileExists: exists(...files) }), expected as never)
  })
})

const withApi = <A, E>(f: (server: FakeApiServer, api: KubeApiShape) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* fakeApiServer()
    const layer = KubeApi.layer({ kubeconfig: server.kubeconfigPath }).pipe(
      Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({})))
    )
    return yield* Effect.gen(function*() {
      return yield* f(server, yield* KubeApi)
    }).pipe(Effect.provide(layer))
  }))

const secrets = "/api/v1/namespaces/default/secrets"

/** Polls a condition on real time (the first call may still be loading client-node); fails after 5 s. */
const until = (condition: () => boolean) =>
  Effect.gen(function*() {
    while (!condition()) yield* Effect.sleep("10 millis")
  }).pipe(Effect.timeout("5 seconds"))

describe("KubeApi.request", () => {
  it.live("creates, merge-patches and gets with the right verbs and content types", () =>
    withApi((server, api) =>
      Effect.gen(function*() {
        const body = { apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "default", labels: { a: "1" } } }
        yield* api.request({ method: "POST", path: secrets, body, description: "create secret default/s" })
        yield* api.request({
          method: "PATCH", path: `${secrets}/s`, body: { metadata: { labels: { b: "2" } } },
          contentType: "application/merge-patch+json", description: "patch secret default/s"
        })
        const got = (yield* api.request({ method: "GET", path: `${secrets}/s`, description: "get secret default/s" })) as {
          metadata: { labels: unknown }
        }
        assert.deepStrictEqual(got.metadata.labels, { a: "1", b: "2" })
        assert.deepStrictEqual(server.requests.map((r) => [r.method, r.contentType]), [
          ["POST", "application/json"], ["PATCH", "application/merge-patch+json"], ["GET", undefined]
        ])
      })
    ))

  it.live("a Status answer keeps code and reason; a non-Status body is not quoted", () =>
    withApi((server, api) =>
      Effect.gen(function*() {
        const e = yield* Effect.flip(api.request({ method: "GET", path: `${secrets}/nope`, description: "get secret default/nope" }))
        assert.deepStrictEqual([e.status, e.statusReason, e.message], [404, "NotFound", `failed to get secret default/nope, error: secrets "nope" not found`])
        const other = yield* Effect.flip(api.request({ method: "GET", path: "/not/an/api", description: "get x" }))
        assert.strictEqual(other.status, 404)
        assert.strictEqual(other.message, "failed to get x, error: the server could not find the requested resource")
      })
    ))
})

describe("KubeApi bodies and configuration", () => {
  it.live("neither a 2xx body that is not JSON nor a non-Status error body is quoted", () =>
    withApi((server, api) =>
      Effect.gen(function*() {
        server.failNext({ status: 200, rawBody: "{\"data\":{\"password\":\"aHVudGVyMg==\"" })
        const e = yield* Effect.flip(api.request({ method: "GET", path: `${secrets}/s`, description: "get secret default/s" }))
        assert.strictEqual(e.message, "failed to get secret default/s, error: the response is not valid JSON")
        server.failNext({ status: 502, rawBody: "<html>bad gateway aHVudGVyMg==</html>" })
        const bad = yield* Effect.flip(api.request({ method: "GET", path: `${secrets}/s`, description: "get secret default/s" }))
        assert.strictEqual(bad.message, "failed to get secret default/s, error: the server responded with HTTP 502")
        assert.strictEqual(bad.status, 502)
      })
    ))

  it.live("a kubeconfig that appears after a failed call is picked up by the next call", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* fakeApiServer()
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(nodePath.join(os.tmpdir(), "kubeapi-"))),
        (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
      )
      const file = nodePath.join(dir, "kubeconfig")
      const layer = KubeApi.layer({ kubeconfig: file }).pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({}))))
      yield* Effect.gen(function*() {
        const api = yield* KubeApi
        const get = api.request({ method: "GET", path: "/api/v1/namespaces/default/pods", description: "list pods default" })
        const e = yield* Effect.flip(get)
        assert.strictEqual(e.message, `failed to list pods default, error: cannot read kubeconfig ${file}: ENOENT`)
        yield* Effect.promise(() => fs.copyFile(server.kubeconfigPath, file))
        assert.deepStrictEqual((yield* get) as unknown, { apiVersion: "v1", kind: "PodList", metadata: { resourceVersion: "0" }, items: [] })
      }).pipe(Effect.provide(layer))
    })))
})

describe("KubeApi.watch", () => {
  it.live("streams events from a resourceVersion and fails typed on 410 Expired", () =>
    withApi((server, api) =>
      Effect.gen(function*() {
        server.seed({ kind: "Secret", metadata: { name: "before", namespace: "default" } })
        const from = String(server.store.resourceVersion)
        const watch = api.watch({ path: secrets, query: { resourceVersion: from }, description: "watch secrets default" })
        const fiber = yield* Stream.take(watch, 2).pipe(Stream.runCollect, Effect.forkChild)
        yield* Effect.sleep("50 millis")
        server.seed({ kind: "Secret", metadata: { name: "w1", namespace: "default" } })
        server.seed({ kind: "Secret", metadata: { name: "w2", namespace: "other" } })
        server.seed({ kind: "Secret", metadata: { name: "w3", namespace: "default" } })
        const events = yield* Fiber.join(fiber)
        assert.deepStrictEqual(events.map((e) => [e.type, (e.object as { metadata: { name: string } }).metadata.name]), [
          ["ADDED", "w1"], ["ADDED", "w3"]
        ])
        server.store.compact()
        const expired = yield* Effect.flip(Stream.runCollect(api.watch({ path: secrets, query: { resourceVersion: from }, description: "watch secrets default" })))
        assert.deepStrictEqual([expired.status, expired.statusReason], [410, "Expired"])
        assert.include(expired.message, "failed to watch secrets default, error: too old resource version")
        server.watch.expiredAs = "status"
        const asStatus = yield* Effect.flip(Stream.runCollect(api.watch({ path: secrets, query: { resourceVersion: from }, description: "watch secrets default" })))
        assert.deepStrictEqual([asStatus.status, asStatus.statusReason], [410, "Expired"])
      })
    ))

  it.live("interrupting the consumer closes the watch connection", () =>
    withApi((server, api) =>
      Effect.gen(function*() {
        const fiber = yield* Stream.runDrain(api.watch({ path: secrets, description: "watch secrets default" })).pipe(Effect.forkChild)
        yield* until(() => server.store.watcherCount === 1)
        yield* Fiber.interrupt(fiber)
        yield* until(() => server.store.watcherCount === 0)
      })
    ))
})
