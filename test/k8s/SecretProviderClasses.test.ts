// SecretProviderClasses.get through the real client-node against the fake API server: found, not found (upstream
// message), other namespace, API errors, API server down, no kubeconfig, timeouts; and the in-memory layer.
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { KubeApi } from "../../src/k8s/KubeApi.js"
import type { KubernetesError } from "../../src/k8s/KubernetesError.js"
import { SecretProviderClasses, SecretProviderClassesInMemory } from "../../src/k8s/SecretProviderClasses.js"
import { fakeApiServer, type FakeApiServer, kubeconfigFor } from "../support/FakeApiServer.js"

const group = "secrets-store.csi.x-k8s.io"
const noEnv = ConfigProvider.layer(ConfigProvider.fromEnvRecord({}))

const live = (kubeconfig: string | undefined, env = noEnv, timeout?: Duration.Input) =>
  SecretProviderClasses.layer.pipe(Layer.provide(KubeApi.layer({ kubeconfig, timeout })), Layer.provide(env))

const get = (namespace: string, name: string) =>
  Effect.gen(function* () {
    const classes = yield* SecretProviderClasses
    return yield* classes.get(namespace, name)
  })

const withServer = <A, E>(f: (server: FakeApiServer) => Effect.Effect<A, E, SecretProviderClasses>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      return yield* f(server).pipe(Effect.provide(live(server.kubeconfigPath)))
    })
  )

const spc = (namespace: string, name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: `${group}/v1`,
  kind: "SecretProviderClass",
  metadata: { name, namespace },
  spec: { provider: "azure", parameters: { keyvaultName: "kv", objects: "array:\n  - |\n    objectName: a" } },
  ...extra
})

const tempFile = (contents: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const dir = await fs.mkdtemp(nodePath.join(os.tmpdir(), "spc-test-"))
      await fs.writeFile(nodePath.join(dir, "kubeconfig"), contents)
      return nodePath.join(dir, "kubeconfig")
    }),
    (file) => Effect.promise(() => fs.rm(nodePath.dirname(file), { recursive: true, force: true }))
  )

const closedPort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

const failure = <A>(e: Effect.Effect<A, KubernetesError, SecretProviderClasses>) => Effect.flip(e)

describe("SecretProviderClasses.layer (live, fake API server)", () => {
  it.live("gets and decodes an SPC leniently: unknown fields ignored, nulls and missing fields allowed", () =>
    withServer((server) =>
      Effect.gen(function* () {
        server.seed(
          spc("default", "azure", {
            status: { byPod: [] },
            spec: {
              provider: "azure",
              parameters: { a: "1" },
              futureField: { x: 1 },
              secretObjects: [
                { secretName: "s", type: "Opaque", labels: null, data: [{ objectName: "a", key: "k" }] },
                {}
              ]
            }
          })
        )
        const got = yield* get("default", "azure")
        assert.strictEqual(got.metadata.name, "azure")
        assert.strictEqual(got.metadata.namespace, "default")
        assert.isString(got.metadata.resourceVersion)
        assert.deepStrictEqual(got.spec, {
          provider: "azure",
          parameters: { a: "1" },
          secretObjects: [
            { secretName: "s", type: "Opaque", data: [{ objectName: "a", key: "k" }] },
            { secretName: "", type: "" }
          ]
        })
        server.seed({ ...spc("default", "bare"), spec: undefined })
        assert.deepStrictEqual((yield* get("default", "bare")).spec, {})
        assert.strictEqual(
          server.requestsMatching({ method: "GET" }).at(-1)?.path,
          `/apis/${group}/v1/namespaces/default/secretproviderclasses/bare`
        )
      })
    )
  )

  it.live("a missing SPC is SecretProviderClassNotFound with upstream's message", () =>
    withServer(() =>
      Effect.gen(function* () {
        const e = yield* failure(get("default", "azure"))
        assert.strictEqual(e.reason, "SecretProviderClassNotFound")
        assert.strictEqual(e.status, 404)
        assert.strictEqual(
          e.message,
          `failed to get secretproviderclass default/azure, error: secretproviderclasses.${group} "azure" not found`
        )
      })
    )
  )

  it.live("an SPC in another namespace is simply not found", () =>
    withServer((server) =>
      Effect.gen(function* () {
        server.seed(spc("other", "azure"))
        assert.strictEqual((yield* failure(get("default", "azure"))).reason, "SecretProviderClassNotFound")
        assert.strictEqual((yield* get("other", "azure")).metadata.namespace, "other")
      })
    )
  )

  it.live("a 500 is KubernetesApiError with the status and the object named", () =>
    withServer((server) =>
      Effect.gen(function* () {
        server.failNext({ method: "GET", status: 500, message: "etcdserver: leader changed" })
        const e = yield* failure(get("default", "azure"))
        assert.strictEqual(e.reason, "KubernetesApiError")
        assert.strictEqual(e.status, 500)
        assert.strictEqual(e.statusReason, "InternalError")
        assert.strictEqual(
          e.message,
          "failed to get secretproviderclass default/azure, error: etcdserver: leader changed"
        )
      })
    )
  )

  it.live("an unreachable API server is KubernetesApiError without a status", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const url = `http://127.0.0.1:${yield* Effect.promise(closedPort)}`
        const file = yield* tempFile(kubeconfigFor(url, "secret-token-value"))
        const e = yield* failure(get("default", "azure")).pipe(Effect.provide(live(file)))
        assert.strictEqual(e.reason, "KubernetesApiError")
        assert.isUndefined(e.status)
        assert.include(e.message, "failed to get secretproviderclass default/azure, error:")
        assert.include(e.message, "ECONNREFUSED")
        assert.notInclude(e.message, "secret-token-value")
      })
    )
  )

  it.live("no kubeconfig: the layer builds, every call fails typed", () =>
    Effect.gen(function* () {
      const e = yield* failure(get("default", "azure")).pipe(Effect.provide(live(undefined)))
      assert.strictEqual(e.reason, "KubernetesApiError")
      assert.include(e.message, "no kubeconfig found")
      const source = yield* Effect.map(KubeApi, (api) => api.source).pipe(
        Effect.provide(KubeApi.layer({ kubeconfig: undefined }).pipe(Layer.provide(noEnv)))
      )
      assert.deepStrictEqual(source, { _tag: "None" })
    })
  )

  it.live("a kubeconfig that is not valid YAML fails typed without quoting it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const file = yield* tempFile("users:\n  - name: x\n    user: {token: hunter2-token\n  bad: [")
        const e = yield* failure(get("default", "azure")).pipe(Effect.provide(live(file)))
        assert.strictEqual(e.reason, "KubernetesApiError")
        assert.include(e.message, `kubeconfig ${file} is not valid`)
        assert.notInclude(e.message, "hunter2")
      })
    )
  )

  it.live("KUBECONFIG from the environment is used when there is no flag (missing entries skipped)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* fakeApiServer()
        server.seed(spc("default", "azure"))
        const env = ConfigProvider.layer(
          ConfigProvider.fromEnvRecord({ KUBECONFIG: `/nonexistent/config:${server.kubeconfigPath}` })
        )
        const got = yield* get("default", "azure").pipe(Effect.provide(live(undefined, env)))
        assert.strictEqual(got.spec.provider, "azure")
      })
    )
  )

  it.live("a slow API server hits the per-call timeout", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* fakeApiServer()
        server.delay(2_000)
        const e = yield* failure(get("default", "azure")).pipe(
          Effect.provide(live(server.kubeconfigPath, noEnv, "200 millis"))
        )
        assert.strictEqual(e.reason, "KubernetesApiError")
        assert.include(e.message, "failed to get secretproviderclass default/azure, error: timed out after")
      })
    )
  )

  it.live("a 2xx body that is not an SPC is KubernetesApiError", () =>
    withServer((server) =>
      Effect.gen(function* () {
        server.seed({ ...spc("default", "weird"), spec: { provider: 42 } })
        const e = yield* failure(get("default", "weird"))
        assert.strictEqual(e.reason, "KubernetesApiError")
        assert.include(e.message, "default/weird")
      })
    )
  )
})

describe("SecretProviderClasses.layerInMemory", () => {
  it.effect("serves what was put, forgets what was removed", () =>
    Effect.gen(function* () {
      const handle = yield* SecretProviderClassesInMemory
      assert.strictEqual((yield* get("default", "a")).spec.provider, "azure")
      yield* handle.remove("default", "a")
      const e = yield* failure(get("default", "a"))
      assert.strictEqual(e.reason, "SecretProviderClassNotFound")
      assert.strictEqual(
        e.message,
        `failed to get secretproviderclass default/a, error: secretproviderclasses.${group} "a" not found`
      )
      yield* handle.put({ ...spc("ns", "b"), apiVersion: `${group}/v1`, kind: "SecretProviderClass" })
      assert.strictEqual((yield* get("ns", "b")).metadata.name, "b")
    }).pipe(
      Effect.provide(
        SecretProviderClasses.layerInMemory([
          {
            apiVersion: `${group}/v1`,
            kind: "SecretProviderClass",
            metadata: { name: "a", namespace: "default" },
            spec: { provider: "azure" }
          }
        ])
      )
    )
  )
})
