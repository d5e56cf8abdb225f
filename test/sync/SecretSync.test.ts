// SecretSync end to end: the real KubeApi client against the fake API server, mounted files written by the real
// AtomicWriter in a temp kubelet root. Creation, rotation, TLS, owners, patch-not-replace, 403, CVE-2020-8568.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { forbiddenHint } from "../../src/sync/SecretSync.js"
import { certificatePem, keyPem, rsaKey } from "./certificates.js"
import {
  decoded,
  eventually,
  ns,
  secretOf,
  secretsResource,
  seedPod,
  seedSpc,
  seedStatus,
  statusResource,
  targetPathFor,
  touchStatus,
  uidOf,
  volumeName,
  world,
  writeFiles
} from "./fixtures.js"

const opaque = {
  secretName: "app-secret",
  type: "Opaque",
  labels: { team: "payments" },
  annotations: { "example.com/note": "synced" },
  data: [
    { objectName: "username", key: "user" },
    { objectName: "dir/password", key: " pass " }
  ]
}
const replicaSet = { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-6d4f", uid: "rs-uid-1", controller: true }
const secretsPath = `/api/v1/namespaces/${ns}/secrets`

describe("SecretSync (live, fake API server, real files)", () => {
  it.live("creates the Secret: data, type, user labels + managed=true, annotations; owner = SPCPS for a bare pod", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const pod = seedPod(w.server, "web-0")
        seedSpc(w.server, "spc1", [opaque])
        const target = targetPathFor(w.root, uidOf(pod))
        yield* writeFiles(target, { username: "admin", "dir/password": "s3cr3t" })
        const status = seedStatus(w.server, pod, "spc1", target)
        const sync = yield* w.start()
        const secret = yield* eventually("the secret", () => secretOf(w.server, "app-secret"))
        assert.strictEqual(secret["type"], "Opaque")
        assert.deepStrictEqual(secret.metadata["labels"], {
          team: "payments",
          "secrets-store.csi.k8s.io/managed": "true"
        })
        assert.deepStrictEqual(secret.metadata["annotations"], { "example.com/note": "synced" })
        assert.strictEqual(decoded(secret, "user"), "admin")
        assert.strictEqual(decoded(secret, "pass"), "s3cr3t")
        assert.deepStrictEqual(Object.keys(secret["data"] as object).sort(), ["pass", "user"])
        assert.deepStrictEqual(secret.metadata["ownerReferences"], [
          {
            apiVersion: "secrets-store.csi.x-k8s.io/v1",
            kind: "SecretProviderClassPodStatus",
            name: status.metadata["name"],
            uid: uidOf(status)
          }
        ])
        const info = yield* eventually("onSynced", () => w.synced[0])
        assert.strictEqual(info.provider, "fake")
        assert.strictEqual(info.secret, `${ns}/app-secret`)
        assert.strictEqual(info.outcome, "created")
        assert.isTrue(info.seconds >= 0 && info.seconds < 10)
        assert.deepStrictEqual(w.failures, [])
        // Memory: nothing remembered once the work is done; no Secret or Pod was ever listed or watched. SPCs are
        // the one collection followed (once, by the SPC cache the publisher shares), as upstream's informer does.
        assert.strictEqual(
          yield* eventually("an idle queue", () => Effect.runSync(sync.trackedKeys) === 0 || undefined),
          true
        )
        const collections = w.server.requests.filter((r) => r.method === "GET" && /\/(secrets|pods)$/.test(r.path))
        assert.deepStrictEqual(collections, [])
        const classLists = w.server.requests.filter(
          (r) => r.method === "GET" && r.path.endsWith("/secretproviderclasses") && r.query["watch"] !== "true"
        )
        assert.isAtMost(classLists.length, 1)
      })
    )
  )

  it.live(
    "rotation: new file contents + a touched SPCPS => the Secret's data changes; owners from the ReplicaSet",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const w = yield* world
          const pod = seedPod(w.server, "web-1", { owners: [replicaSet] })
          seedSpc(w.server, "spc1", [opaque])
          const target = targetPathFor(w.root, uidOf(pod))
          yield* writeFiles(target, { username: "admin", "dir/password": "v1" })
          const status = seedStatus(w.server, pod, "spc1", target)
          // A slow report (a busy metrics recorder): the Secret is written well before onSynced has run.
          yield* w.start({
            onSynced: (info) => Effect.sleep("100 millis").pipe(Effect.andThen(Effect.sync(() => w.synced.push(info))))
          })
          const first = yield* eventually(
            "v1",
            () => decoded(secretOf(w.server, "app-secret"), "pass") === "v1" && secretOf(w.server, "app-secret")
          )
          // apiVersion/kind/name/uid only: no controller flag on a synced Secret (#2051).
          assert.deepStrictEqual(first.metadata["ownerReferences"], [
            { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-6d4f", uid: "rs-uid-1" }
          ])
          yield* writeFiles(target, { username: "admin", "dir/password": "v2" })
          touchStatus(w.server, String(status.metadata["name"]))
          yield* eventually("v2", () => decoded(secretOf(w.server, "app-secret"), "pass") === "v2")
          // The Secret changes before the reconcile reports it: wait for the report itself.
          yield* eventually("the patch reported", () => w.synced.length >= 2)
          const patches = w.server.requestsMatching({ method: "PATCH", path: `${secretsPath}/app-secret` })
          assert.strictEqual(patches.length, 1)
          assert.strictEqual(patches[0]!.contentType, "application/merge-patch+json")
          assert.deepStrictEqual(w.server.requestsMatching({ method: "PUT" }), [])
          assert.deepStrictEqual(
            w.synced.map((s) => s.outcome),
            ["created", "patched"]
          )
        })
      )
  )

  it.live("kubernetes.io/tls: one PEM bundle becomes tls.crt and a PKCS#1 tls.key", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const key = rsaKey()
        const cert = certificatePem("web.example", key, key)
        const pod = seedPod(w.server, "web-2")
        seedSpc(w.server, "spc1", [
          {
            secretName: "web-tls",
            type: "kubernetes.io/tls",
            data: [
              { objectName: "bundle.pem", key: "tls.key" },
              { objectName: "bundle.pem", key: "tls.crt" }
            ]
          }
        ])
        const target = targetPathFor(w.root, uidOf(pod))
        yield* writeFiles(target, { "bundle.pem": keyPem(key, "pkcs8") + cert })
        seedStatus(w.server, pod, "spc1", target)
        yield* w.start()
        const secret = yield* eventually("the TLS secret", () => secretOf(w.server, "web-tls"))
        assert.strictEqual(secret["type"], "kubernetes.io/tls")
        assert.strictEqual(decoded(secret, "tls.crt"), cert)
        assert.strictEqual(decoded(secret, "tls.key"), keyPem(key, "pkcs1"))
      })
    )
  )

  it.live("an existing Secret keeps its foreign labels, annotations and owners; ours are added, data replaced", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const foreignOwner = { apiVersion: "example.com/v1", kind: "Thing", name: "keeper", uid: "thing-uid" }
        w.server.seed({
          apiVersion: "v1",
          kind: "Secret",
          type: "Opaque",
          metadata: {
            name: "app-secret",
            namespace: ns,
            labels: { foreign: "x" },
            annotations: { other: "y" },
            ownerReferences: [foreignOwner]
          },
          data: { user: Buffer.from("old").toString("base64"), stale: "c3RhbGU=" }
        })
        const pod = seedPod(w.server, "web-3", { owners: [replicaSet] })
        seedSpc(w.server, "spc1", [opaque])
        const target = targetPathFor(w.root, uidOf(pod))
        yield* writeFiles(target, { username: "new", "dir/password": "p" })
        seedStatus(w.server, pod, "spc1", target)
        yield* w.start()
        const secret = yield* eventually(
          "patched",
          () => decoded(secretOf(w.server, "app-secret"), "user") === "new" && secretOf(w.server, "app-secret")
        )
        assert.deepStrictEqual(secret.metadata["labels"], {
          foreign: "x",
          team: "payments",
          "secrets-store.csi.k8s.io/managed": "true"
        })
        assert.deepStrictEqual(secret.metadata["annotations"], { other: "y", "example.com/note": "synced" })
        assert.deepStrictEqual(secret.metadata["ownerReferences"], [
          foreignOwner,
          { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-6d4f", uid: "rs-uid-1" }
        ])
        assert.deepStrictEqual(Object.keys(secret["data"] as object).sort(), ["pass", "user"])
        // A second pod of the same ReplicaSet adds no duplicate owner; an unchanged Secret is not written again.
        const writes = () =>
          w.server.requests.filter((r) => r.path.startsWith(secretsPath) && r.method !== "GET").length
        const before = writes()
        const twin = seedPod(w.server, "web-4", { owners: [replicaSet] })
        const twinTarget = targetPathFor(w.root, uidOf(twin))
        yield* writeFiles(twinTarget, { username: "new", "dir/password": "p" })
        seedStatus(w.server, twin, "spc1", twinTarget)
        yield* eventually("the twin's reconcile", () => w.synced.some((s) => s.outcome === "unchanged"))
        assert.strictEqual(writes(), before)
        assert.strictEqual((secretOf(w.server, "app-secret")!.metadata["ownerReferences"] as Array<unknown>).length, 2)
      })
    )
  )

  it.live("403 on create: onFailure with the RBAC hint (KubernetesApiError); a later retry succeeds", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        w.server.failNext({
          method: "POST",
          path: secretsPath,
          status: 403,
          reason: "Forbidden",
          message:
            'secrets is forbidden: User "system:serviceaccount:kube-system:secrets-store-csi-driver" ' +
            'cannot create resource "secrets"'
        })
        const pod = seedPod(w.server, "web-5")
        seedSpc(w.server, "spc1", [opaque])
        const target = targetPathFor(w.root, uidOf(pod))
        yield* writeFiles(target, { username: "admin", "dir/password": "s3cr3t" })
        seedStatus(w.server, pod, "spc1", target)
        yield* w.start()
        const failure = yield* eventually("onFailure", () => w.failures[0])
        assert.strictEqual(failure.reason, "KubernetesApiError")
        assert.include(failure.message, forbiddenHint)
        assert.include(failure.message, `secret ${ns}/app-secret`)
        assert.deepStrictEqual(failure.pod, { name: "web-5", namespace: ns, uid: uidOf(pod) })
        assert.notInclude(failure.message, "s3cr3t")
        assert.isUndefined(secretOf(w.server, "app-secret"))
        yield* eventually("the retried secret", () => secretOf(w.server, "app-secret"))
        assert.strictEqual(w.server.requestsMatching({ method: "POST", path: secretsPath }).length, 2)
      })
    )
  )

  it.live(
    "CVE-2020-8568: a targetPath of another pod (or a foreign volume, with .., or not our mount) " +
      "=> onFailure, no Secret",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const w = yield* world
          const victim = seedPod(w.server, "victim", { spc: "other" })
          const victimTarget = targetPathFor(w.root, uidOf(victim))
          yield* writeFiles(victimTarget, { username: "victim-user", "dir/password": "victim-pass" })
          const attacker = seedPod(w.server, "attacker")
          seedSpc(w.server, "spc1", [opaque])
          const own = targetPathFor(w.root, uidOf(attacker))
          // A look-alike of the attacker's own path inside a directory it controls (an emptyDir, say): the right
          // tail, but not the path of its volume under the kubelet root, so nothing is read from it
          // (SyncConfinement.test.ts has the variants with links to the victim's tmpfs).
          const lookAlikeRoot = `${w.root}/emptydir`
          const lookAlike = targetPathFor(lookAlikeRoot, uidOf(attacker))
          yield* Effect.promise(() => import("node:fs/promises").then((fs) => fs.mkdir(lookAlike, { recursive: true })))
          yield* Effect.promise(() =>
            import("node:fs/promises").then((fs) => fs.symlink(`${victimTarget}/username`, `${lookAlike}/username`))
          )
          const tampered = [
            victimTarget,
            targetPathFor(w.root, uidOf(attacker), "not-the-volume"),
            `${own}/../../../../${uidOf(victim)}/volumes/kubernetes.io~csi/${volumeName}/mount`,
            lookAlike
          ]
          seedStatus(w.server, attacker, "spc1", tampered[0]!)
          const sync = yield* w.start()
          for (const [i, path] of tampered.entries()) {
            if (i > 0) {
              const current = w.server.store.get(statusResource, ns, `attacker-${ns}-spc1`)!
              w.server.store.replace(statusResource, current, {
                ...current,
                status: { ...(current["status"] as object), targetPath: path }
              })
            }
            const failure = yield* eventually(`failure ${i}`, () => w.failures[i])
            assert.strictEqual(failure.reason, "InvalidRequest")
            assert.include(failure.message, `${ns}/attacker`)
            assert.deepStrictEqual(failure.pod.name, "attacker")
            if (path === lookAlike)
              assert.include(failure.message, "targetPath is not the path of a secrets-store volume")
          }
          // A resync reconciles the last path again: one more failure, and still nothing written.
          yield* sync.resync
          yield* eventually("the failure after a resync", () => w.failures.length > tampered.length)
          assert.deepStrictEqual(w.server.store.list(secretsResource), [])
          assert.deepStrictEqual(w.server.requestsMatching({ path: (p) => p.startsWith(secretsPath) }), [])
        })
      )
  )

  it.live("nothing to do: SPC without secretObjects, missing SPC, finished pod", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        seedSpc(w.server, "plain", undefined)
        seedSpc(w.server, "spc1", [opaque])
        const cases = [
          seedPod(w.server, "p-plain", { spc: "plain" }),
          seedPod(w.server, "p-missing", { spc: "missing" }),
          seedPod(w.server, "p-done", { phase: "Succeeded" })
        ]
        for (const [i, pod] of cases.entries()) {
          const target = targetPathFor(w.root, uidOf(pod))
          yield* writeFiles(target, { username: "u", "dir/password": "p" })
          seedStatus(w.server, pod, ["plain", "missing", "spc1"][i]!, target)
        }
        const sync = yield* w.start()
        yield* eventually(
          "three reconciles",
          () =>
            w.server.requestsMatching({ method: "GET", path: (p) => p.includes("/secretproviderclasspodstatuses/") })
              .length >= 3
        )
        yield* eventually("an idle queue", () => Effect.runSync(sync.trackedKeys) === 0)
        assert.deepStrictEqual(w.failures, [])
        assert.deepStrictEqual(w.server.requestsMatching({ path: (p) => p.startsWith(secretsPath) }), [])
        // A class that syncs nothing (or no class) costs no pod GET; only the finished pod's was read.
        assert.deepStrictEqual(
          w.server
            .requestsMatching({ method: "GET", path: (p) => p.includes("/pods/") })
            .map((r) => r.path.split("/").pop()),
          ["p-done"]
        )
      })
    )
  )
})
