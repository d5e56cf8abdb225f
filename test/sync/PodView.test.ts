// The pure parts of a reconcile: the CVE-2020-8568 target-path check (table), finished pods, owners, and the
// per-object validation of SecretBuilder with upstream's messages.
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import type { SecretProviderClassPodStatus } from "../../src/domain/SecretProviderClass.js"
import { checkTargetPath, isFinished, ownersFor, type Pod } from "../../src/sync/PodView.js"
import { buildSecrets, managedLabel } from "../../src/sync/SecretBuilder.js"

const driver = "secrets-store.csi.k8s.io"
const uid = "9a1c7e1e-0b5f-4c47-9d5e-2f7c3b1d0a11"

const pod = (over: Partial<Pod["metadata"]> = {}, volumes?: Pod["spec"]["volumes"], phase?: string): Pod => ({
  metadata: { name: "web", namespace: "ns1", uid, ...over },
  spec: {
    volumes: volumes ?? [
      { name: "cfg" },
      { name: "other-driver", csi: { driver: "example.csi", volumeAttributes: { secretProviderClass: "spc1" } } },
      { name: "store", csi: { driver, volumeAttributes: { secretProviderClass: "spc1" } } }
    ]
  },
  status: phase === undefined ? {} : { phase }
})

const podOwner = { apiVersion: "v1", kind: "Pod", name: "web", uid }
type Owners = SecretProviderClassPodStatus["metadata"]["ownerReferences"]
const status = (
  targetPath: string,
  spc = "spc1",
  over: { podName?: string; namespace?: string; owners?: Owners } = {}
): SecretProviderClassPodStatus => ({
  apiVersion: "secrets-store.csi.x-k8s.io/v1",
  kind: "SecretProviderClassPodStatus",
  metadata: {
    name: "web-ns1-spc1",
    namespace: over.namespace ?? "ns1",
    uid: "spcps-uid",
    ownerReferences: over.owners ?? [podOwner]
  },
  status: { podName: over.podName ?? "web", secretProviderClassName: spc, mounted: true, targetPath, objects: [] }
})

const root = "/var/lib/kubelet"
const check = (p: Pod, s: SecretProviderClassPodStatus, kubeletRoot = root) =>
  checkTargetPath(p, s, driver, kubeletRoot)
const ok = (p: Pod, s: SecretProviderClassPodStatus, kubeletRoot = root) => Result.isSuccess(check(p, s, kubeletRoot))
const tail = `/pods/${uid}/volumes/kubernetes.io~csi/store/mount`

describe("checkTargetPath (CVE-2020-8568)", () => {
  it("accepts exactly the pod's volume path under the configured kubelet root, and returns it parsed", () => {
    const result = check(pod(), status(`${root}${tail}`))
    const parsed = { kubeletRoot: root, podUid: uid, volumeName: "store", path: `${root}${tail}` }
    assert.deepStrictEqual(result, Result.succeed(parsed))
    const microk8s = "/var/snap/microk8s/common/var/lib/kubelet"
    assert.isTrue(ok(pod(), status(`${microk8s}${tail}`), microk8s))
    assert.isTrue(ok(pod(), status(`/k${tail}`), "/k/"))
  })

  const refused: ReadonlyArray<readonly [string, string]> = [
    ["another pod's uid", `/var/lib/kubelet/pods/0000/volumes/kubernetes.io~csi/store/mount`],
    ["another volume of the pod", `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~csi/cfg/mount`],
    [
      "the other driver's volume naming the same SPC",
      `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~csi/other-driver/mount`
    ],
    ["a subdirectory of the mount", `/var/lib/kubelet${tail}/sub`],
    ["a parent of the mount", `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~csi/store`],
    [".. escaping into another pod", `/var/lib/kubelet/pods/x/../..${tail}`],
    ["a . element", `/var/lib/kubelet/./pods/${uid}/volumes/kubernetes.io~csi/store/mount`],
    ["a double slash", `/var/lib/kubelet/${tail}`],
    ["a trailing slash", `/var/lib/kubelet${tail}/`],
    ["a relative path", `var/lib/kubelet${tail}`],
    ["no kubelet root", tail],
    ["an empty path", ""],
    // The look-alike: the pod's own path rebuilt inside one of its writable volumes, under the real root.
    ["a look-alike inside the pod's emptyDir", `${root}/pods/${uid}/volumes/kubernetes.io~empty-dir/scratch${tail}`],
    ["another kubelet root", `/var/snap/microk8s/common/var/lib/kubelet${tail}`],
    ["a look-alike in another tree", `/tmp/attacker/var/lib/kubelet${tail}`]
  ]
  for (const [name, path] of refused) it(`refuses ${name}`, () => assert.isFalse(ok(pod(), status(path))))

  const strangers: ReadonlyArray<readonly [string, SecretProviderClassPodStatus]> = [
    ["another pod's name in status.podName", status(`${root}${tail}`, "spc1", { podName: "other" })],
    ["another namespace", status(`${root}${tail}`, "spc1", { namespace: "ns2" })],
    ["no owner reference", status(`${root}${tail}`, "spc1", { owners: [] })],
    ["an owner reference to another uid", status(`${root}${tail}`, "spc1", { owners: [{ ...podOwner, uid: "0" }] })],
    [
      "an owner that is not a Pod",
      status(`${root}${tail}`, "spc1", {
        owners: [{ ...podOwner, kind: "ReplicaSet", apiVersion: "apps/v1" }]
      })
    ]
  ]
  for (const [name, s] of strangers) {
    it(`refuses a status naming ${name}`, () => {
      const result = check(pod(), s)
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) {
        assert.strictEqual(result.failure.reason, "InvalidRequest")
        assert.include(result.failure.message, "does not belong to pod ns1/web")
      }
    })
  }

  it("refuses when the pod has no volume of this driver for the SPC, naming pod and SPC", () => {
    const result = check(pod(), status(`/var/lib/kubelet${tail}`, "spc2"))
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) {
      assert.strictEqual(result.failure.reason, "InvalidRequest")
      assert.include(
        result.failure.message,
        "pod ns1/web has no secrets-store.csi.k8s.io volume for secretproviderclass spc2"
      )
    }
  })
})

describe("pod helpers", () => {
  it("isFinished: deleting, Succeeded, Failed; not Running or Pending", () => {
    assert.isTrue(isFinished(pod({ deletionTimestamp: "2026-01-01T00:00:00Z" })))
    assert.isTrue(isFinished(pod({}, undefined, "Succeeded")))
    assert.isTrue(isFinished(pod({}, undefined, "Failed")))
    assert.isFalse(isFinished(pod({}, undefined, "Running")))
    assert.isFalse(isFinished(pod({}, undefined, "Pending")))
  })

  it("ownersFor: the pod's owners (four fields only), else the SPCPS", () => {
    const rs = { apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid: "rs-uid" }
    const withController = { ...rs, controller: true, blockOwnerDeletion: true } as typeof rs
    assert.deepStrictEqual(ownersFor(pod({ ownerReferences: [withController] }), status("")), [rs])
    assert.deepStrictEqual(ownersFor(pod(), status("")), [
      {
        apiVersion: "secrets-store.csi.x-k8s.io/v1",
        kind: "SecretProviderClassPodStatus",
        name: "web-ns1-spc1",
        uid: "spcps-uid"
      }
    ])
  })
})

describe("buildSecrets", () => {
  const files = new Map([
    ["a", { contents: Buffer.from("A-VALUE") }],
    ["d/b", { contents: Buffer.from("B") }]
  ])
  const spc = { namespace: "ns1", name: "spc1" }
  const good = { secretName: " s1 ", type: "Opaque", data: [{ objectName: " a ", key: " k " }] }

  it("builds valid entries and reports each invalid one, with upstream's wording and no contents", () => {
    const built = buildSecrets(
      spc,
      [
        good,
        { secretName: "", type: "Opaque", data: [{ objectName: "a", key: "k" }] },
        { secretName: "s3", type: "", data: [{ objectName: "a", key: "k" }] },
        { secretName: "s4", type: "Opaque", data: [] },
        { secretName: "s5", type: "Opaque", data: [{ objectName: " ", key: "k" }] },
        { secretName: "s6", type: "Opaque", data: [{ objectName: "a", key: "" }] },
        { secretName: "s7", type: "Opaque", data: [{ objectName: "missing", key: "k" }] },
        { secretName: "s8", type: "kubernetes.io/tls", data: [{ objectName: "a", key: "tls.key" }] },
        {
          secretName: "s9",
          type: "Opaque",
          labels: { [managedLabel]: "false", x: "y" },
          annotations: { n: "v" },
          data: [{ objectName: "d/b", key: "b" }]
        }
      ],
      files
    )
    assert.deepStrictEqual(built.secrets, [
      {
        name: "s1",
        namespace: "ns1",
        type: "Opaque",
        data: { k: "QS1WQUxVRQ==" },
        labels: { [managedLabel]: "true" },
        annotations: {}
      },
      {
        name: "s9",
        namespace: "ns1",
        type: "Opaque",
        data: { b: "Qg==" },
        labels: { x: "y", [managedLabel]: "true" },
        annotations: { n: "v" }
      }
    ])
    const messages = built.errors.map((e) => e.message)
    assert.deepStrictEqual(
      built.errors.map((e) => e.reason),
      Array(7).fill("InvalidSecretProviderClass")
    )
    assert.include(messages[0]!, "secretproviderclass ns1/spc1: secretName is empty")
    assert.include(messages[1]!, "secret ns1/s3 of secretproviderclass ns1/spc1: type is empty")
    assert.include(messages[2]!, "secret ns1/s4 of secretproviderclass ns1/spc1: data is empty")
    assert.include(messages[3]!, "objectName in secretObjects.data is empty")
    assert.include(messages[4]!, "key in secretObjects.data is empty")
    assert.include(messages[5]!, "file matching objectName missing not found in the pod")
    assert.include(
      messages[6]!,
      "secret ns1/s8 of secretproviderclass ns1/spc1 key tls.key: no PEM private key block found"
    )
    for (const m of messages) assert.notInclude(m, "A-VALUE")
  })
})
