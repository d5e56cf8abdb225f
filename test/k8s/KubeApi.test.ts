// KubeApi: where the configuration comes from (pure table), raw requests and watches over node:http(s) against
// the fake API server, how Status answers and ERROR events become typed errors, and client-node's auth (client
// certificates, in-cluster token and CA, exec plugins) applied to a real TLS server that counts its connections.
import * as fs from "node:fs/promises"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
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
import { makeKubeTransport, readText } from "../../src/k8s/KubeTransport.js"
import { fakeApiServer, type FakeApiServer } from "../support/FakeApiServer.js"
import { certificatePem, ecKey, keyPem } from "../sync/certificates.js"

describe("resolveKubeConfigSource", () => {
  const token = nodePath.join(serviceAccountDir, "token")
  const exists =
    (...paths: Array<string>) =>
    (p: string) =>
      paths.includes(p)
  const inCluster = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" }
  it.each([
    {
      name: "flag wins over everything",
      flag: "/k",
      env: { KUBECONFIG: "/e", ...inCluster },
      files: ["/e", token],
      expected: { _tag: "Files", origin: "flag", paths: ["/k"] }
    },
    {
      name: "KUBECONFIG (missing entries skipped)",
      flag: undefined,
      env: { KUBECONFIG: "/a:/b:/c", ...inCluster },
      files: ["/a", "/c", token],
      expected: { _tag: "Files", origin: "KUBECONFIG", paths: ["/a", "/c"] }
    },
    {
      name: "in-cluster",
      flag: "",
      env: { KUBECONFIG: "/missing", ...inCluster },
      files: [token],
      expected: { _tag: "InCluster", host: "10.0.0.1", port: "443", serviceAccountDir }
    },
    { name: "in-cluster needs the token file", flag: undefined, env: inCluster, files: [], expected: { _tag: "None" } },
    {
      name: "$HOME/.kube/config last",
      flag: undefined,
      env: { HOME: "/root" },
      files: ["/root/.kube/config"],
      expected: { _tag: "Files", origin: "home", paths: ["/root/.kube/config"] }
    },
    { name: "nothing at all", flag: undefined, env: { HOME: "/root" }, files: [], expected: { _tag: "None" } }
  ])("$name", ({ flag, env, files, expected }) => {
    assert.deepStrictEqual(
      resolveKubeConfigSource({ kubeconfigFlag: flag, env, fileExists: exists(...files) }),
      expected as never
    )
  })
})

const withApi = <A, E>(f: (server: FakeApiServer, api: KubeApiShape) => Effect.Effect<A, E>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      const layer = KubeApi.layer({ kubeconfig: server.kubeconfigPath }).pipe(
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({})))
      )
      return yield* Effect.gen(function* () {
        return yield* f(server, yield* KubeApi)
      }).pipe(Effect.provide(layer))
    })
  )

const secrets = "/api/v1/namespaces/default/secrets"

/** Polls a condition on real time (the first call may still be loading client-node); fails after 5 s. */
const until = (condition: () => boolean) =>
  Effect.gen(function* () {
    while (!condition()) yield* Effect.sleep("10 millis")
  }).pipe(Effect.timeout("5 seconds"))

describe("KubeApi.request", () => {
  it.live("creates, merge-patches and gets with the right verbs and content types", () =>
    withApi((server, api) =>
      Effect.gen(function* () {
        const body = {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "s", namespace: "default", labels: { a: "1" } }
        }
        yield* api.request({ method: "POST", path: secrets, body, description: "create secret default/s" })
        yield* api.request({
          method: "PATCH",
          path: `${secrets}/s`,
          body: { metadata: { labels: { b: "2" } } },
          contentType: "application/merge-patch+json",
          description: "patch secret default/s"
        })
        const got = (yield* api.request({
          method: "GET",
          path: `${secrets}/s`,
          description: "get secret default/s"
        })) as {
          metadata: { labels: unknown }
        }
        assert.deepStrictEqual(got.metadata.labels, { a: "1", b: "2" })
        assert.deepStrictEqual(
          server.requests.map((r) => [r.method, r.contentType]),
          [
            ["POST", "application/json"],
            ["PATCH", "application/merge-patch+json"],
            ["GET", undefined]
          ]
        )
      })
    )
  )

  it.live("a Status answer keeps code and reason; a non-Status body is not quoted", () =>
    withApi((_server, api) =>
      Effect.gen(function* () {
        const e = yield* Effect.flip(
          api.request({ method: "GET", path: `${secrets}/nope`, description: "get secret default/nope" })
        )
        assert.deepStrictEqual(
          [e.status, e.statusReason, e.message],
          [404, "NotFound", `failed to get secret default/nope, error: secrets "nope" not found`]
        )
        const other = yield* Effect.flip(api.request({ method: "GET", path: "/not/an/api", description: "get x" }))
        assert.strictEqual(other.status, 404)
        assert.strictEqual(other.message, "failed to get x, error: the server could not find the requested resource")
      })
    )
  )
})

describe("KubeApi bodies and configuration", () => {
  it.live("neither a 2xx body that is not JSON nor a non-Status error body is quoted", () =>
    withApi((server, api) =>
      Effect.gen(function* () {
        server.failNext({ status: 200, rawBody: '{"data":{"password":"aHVudGVyMg=="' })
        const e = yield* Effect.flip(
          api.request({ method: "GET", path: `${secrets}/s`, description: "get secret default/s" })
        )
        assert.strictEqual(e.message, "failed to get secret default/s, error: the response is not valid JSON")
        server.failNext({ status: 502, rawBody: "<html>bad gateway aHVudGVyMg==</html>" })
        const bad = yield* Effect.flip(
          api.request({ method: "GET", path: `${secrets}/s`, description: "get secret default/s" })
        )
        assert.strictEqual(bad.message, "failed to get secret default/s, error: the server responded with HTTP 502")
        assert.strictEqual(bad.status, 502)
      })
    )
  )

  it.live("a kubeconfig that appears after a failed call is picked up by the next call", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* fakeApiServer()
        const dir = yield* Effect.acquireRelease(
          Effect.promise(() => fs.mkdtemp(nodePath.join(os.tmpdir(), "kubeapi-"))),
          (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
        )
        const file = nodePath.join(dir, "kubeconfig")
        const layer = KubeApi.layer({ kubeconfig: file }).pipe(
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({})))
        )
        yield* Effect.gen(function* () {
          const api = yield* KubeApi
          const get = api.request({
            method: "GET",
            path: "/api/v1/namespaces/default/pods",
            description: "list pods default"
          })
          const e = yield* Effect.flip(get)
          assert.strictEqual(e.message, `failed to list pods default, error: cannot read kubeconfig ${file}: ENOENT`)
          yield* Effect.promise(() => fs.copyFile(server.kubeconfigPath, file))
          assert.deepStrictEqual((yield* get) as unknown, {
            apiVersion: "v1",
            kind: "PodList",
            metadata: { resourceVersion: "0" },
            items: []
          })
        }).pipe(Effect.provide(layer))
      })
    )
  )
})

describe("KubeApi.watch", () => {
  it.live("streams events from a resourceVersion and fails typed on 410 Expired", () =>
    withApi((server, api) =>
      Effect.gen(function* () {
        server.seed({ kind: "Secret", metadata: { name: "before", namespace: "default" } })
        const from = String(server.store.resourceVersion)
        const watch = api.watch({
          path: secrets,
          query: { resourceVersion: from },
          description: "watch secrets default"
        })
        const fiber = yield* Stream.take(watch, 2).pipe(Stream.runCollect, Effect.forkChild)
        yield* Effect.sleep("50 millis")
        server.seed({ kind: "Secret", metadata: { name: "w1", namespace: "default" } })
        server.seed({ kind: "Secret", metadata: { name: "w2", namespace: "other" } })
        server.seed({ kind: "Secret", metadata: { name: "w3", namespace: "default" } })
        const events = yield* Fiber.join(fiber)
        assert.deepStrictEqual(
          events.map((e) => [e.type, (e.object as { metadata: { name: string } }).metadata.name]),
          [
            ["ADDED", "w1"],
            ["ADDED", "w3"]
          ]
        )
        server.store.compact()
        const expired = yield* Effect.flip(
          Stream.runCollect(
            api.watch({ path: secrets, query: { resourceVersion: from }, description: "watch secrets default" })
          )
        )
        assert.deepStrictEqual([expired.status, expired.statusReason], [410, "Expired"])
        assert.include(expired.message, "failed to watch secrets default, error: too old resource version")
        server.watch.expiredAs = "status"
        const asStatus = yield* Effect.flip(
          Stream.runCollect(
            api.watch({ path: secrets, query: { resourceVersion: from }, description: "watch secrets default" })
          )
        )
        assert.deepStrictEqual([asStatus.status, asStatus.statusReason], [410, "Expired"])
      })
    )
  )

  it.live("interrupting the consumer closes the watch connection", () =>
    withApi((server, api) =>
      Effect.gen(function* () {
        const fiber = yield* Stream.runDrain(api.watch({ path: secrets, description: "watch secrets default" })).pipe(
          Effect.forkChild
        )
        yield* until(() => server.store.watcherCount === 1)
        yield* Fiber.interrupt(fiber)
        yield* until(() => server.store.watcherCount === 0)
      })
    )
  )
})

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(nodePath.join(os.tmpdir(), "kubeapi-"))),
  (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
)

const pem = (cn: string) => {
  const key = ecKey()
  return { cert: certificatePem(cn, key, key), key: keyPem(key, "pkcs8") }
}

/** An HTTPS API server that demands a client certificate (when given its CA) and counts TLS handshakes. */
const tlsApiServer = (server: { cert: string; key: string }, clientCa?: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const seen: Array<{ path: string; authorization: string | undefined; client: string | undefined }> = []
      const tls = {
        ...server,
        ...(clientCa === undefined ? {} : { ca: clientCa, requestCert: true, rejectUnauthorized: true })
      }
      const srv = https.createServer(tls, (req, res) => {
        const peer = (req.socket as import("node:tls").TLSSocket).getPeerCertificate()
        const cn = peer.subject?.CN
        seen.push({
          path: req.url ?? "",
          authorization: req.headers.authorization,
          client: Array.isArray(cn) ? cn.join(",") : cn
        })
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ kind: "Status", status: "Success" }))
      })
      const handshakes = { count: 0 }
      srv.on("secureConnection", () => handshakes.count++)
      await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve))
      return { srv, seen, handshakes, port: (srv.address() as AddressInfo).port }
    }),
    ({ srv }) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            srv.closeAllConnections()
            srv.close(() => resolve())
          })
      )
  )

const b64 = (s: string) => Buffer.from(s).toString("base64")
const kubeconfig = (cluster: object, user: object) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    "current-context": "c",
    clusters: [{ name: "c", cluster }],
    users: [{ name: "u", user }],
    contexts: [{ name: "c", context: { cluster: "c", user: "u" } }]
  })

const withKubeconfig = <A, E>(text: string, f: (api: KubeApiShape) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const file = nodePath.join(yield* tempDir, "kubeconfig")
    yield* Effect.promise(() => fs.writeFile(file, text))
    const layer = KubeApi.layer({ kubeconfig: file }).pipe(
      Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({})))
    )
    return yield* Effect.gen(function* () {
      return yield* f(yield* KubeApi)
    }).pipe(Effect.provide(layer))
  })

describe("KubeApi over TLS (client-node's auth, node:https)", () => {
  const get = (api: KubeApiShape, i: number) =>
    api.request({ method: "GET", path: `/api/v1/namespaces/default/pods/p${i}`, description: "get pod" })

  it.live("client certificate, CA, tls-server-name and token from the kubeconfig; calls share one TLS connection", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const serverPem = pem("kube-apiserver")
        const clientPem = pem("secrets-store-csi-driver")
        const server = yield* tlsApiServer(serverPem, clientPem.cert)
        const text = kubeconfig(
          {
            server: `https://127.0.0.1:${server.port}`,
            "certificate-authority-data": b64(serverPem.cert),
            "tls-server-name": "kube-apiserver"
          },
          { "client-certificate-data": b64(clientPem.cert), "client-key-data": b64(clientPem.key), token: "t0k" }
        )
        yield* withKubeconfig(text, (api) => Effect.forEach([1, 2, 3, 4, 5], (i) => get(api, i)))
        assert.deepStrictEqual(
          server.seen.map((r) => [r.authorization, r.client]),
          Array(5).fill(["Bearer t0k", "secrets-store-csi-driver"])
        )
        assert.strictEqual(server.handshakes.count, 1)
      })
    )
  )

  it.live("a server certificate the CA did not sign fails the call, typed, without quoting a body", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* tlsApiServer(pem("kube-apiserver"))
        const text = kubeconfig(
          {
            server: `https://127.0.0.1:${server.port}`,
            "certificate-authority-data": b64(pem("kube-apiserver").cert),
            "tls-server-name": "kube-apiserver"
          },
          { token: "t0k" }
        )
        const e = yield* withKubeconfig(text, (api) => Effect.flip(get(api, 1)))
        assert.strictEqual(e.status, undefined)
        assert.match(e.message, /^failed to get pod, error: .*(certificate|signature)/)
        assert.deepStrictEqual(server.seen, [])
      })
    )
  )

  it.live("in-cluster: the service account's ca.crt and token file", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const serverPem = pem("localhost")
        const server = yield* tlsApiServer(serverPem)
        const dir = yield* tempDir
        yield* Effect.promise(() =>
          Promise.all([
            fs.writeFile(nodePath.join(dir, "ca.crt"), serverPem.cert),
            fs.writeFile(nodePath.join(dir, "token"), "sa-token")
          ])
        )
        const transport = yield* Effect.acquireRelease(
          Effect.sync(() =>
            makeKubeTransport({
              _tag: "InCluster",
              host: "localhost",
              port: String(server.port),
              serviceAccountDir: dir
            })
          ),
          (t) => Effect.sync(() => t.close())
        )
        const send = () =>
          Effect.promise(async () => {
            const response = await transport.send(
              { method: "GET", path: "/version", description: "get version" },
              new AbortController().signal
            )
            return [response.statusCode, JSON.parse(await readText(response)).kind]
          })
        assert.deepStrictEqual(yield* send(), [200, "Status"])
        assert.deepStrictEqual(yield* send(), [200, "Status"])
        assert.deepStrictEqual(
          server.seen.map((r) => r.authorization),
          ["Bearer sa-token", "Bearer sa-token"]
        )
        assert.strictEqual(server.handshakes.count, 1)
      })
    )
  )

  it.live("an exec credential plugin supplies the token (client-node's ExecAuth, child_process)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* fakeApiServer({ token: "exec-token" })
        const credential = {
          apiVersion: "client.authentication.k8s.io/v1",
          kind: "ExecCredential",
          status: { token: "exec-token" }
        }
        const text = kubeconfig(
          { server: server.url, "insecure-skip-tls-verify": true },
          {
            exec: {
              apiVersion: "client.authentication.k8s.io/v1",
              command: process.execPath,
              args: ["-e", `console.log(${JSON.stringify(JSON.stringify(credential))})`]
            }
          }
        )
        const pods = yield* withKubeconfig(text, (api) =>
          api.request({ method: "GET", path: "/api/v1/namespaces/default/pods", description: "list pods" })
        )
        assert.strictEqual((pods as { kind: string }).kind, "PodList")
        assert.deepStrictEqual(
          server.requests.map((r) => r.authorization),
          ["Bearer exec-token"]
        )
      })
    )
  )
})
