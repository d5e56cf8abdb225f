// examples/sync-controller works as written: the SecretSync is valid for the CRD, names a SecretProviderClass and
// a ServiceAccount of its namespace, the reference provider serves every sourcePath from its store, and the Secret
// the controller would write from it passes the admission policies.
import * as Effect from "effect/Effect"
import { readFileSync } from "node:fs"
import { beforeAll, describe, expect, it } from "vitest"
import { decodeSecretProviderClass } from "../../src/domain/SecretProviderClass.js"
import { mountFromStore } from "../../src/reference-provider/ReferenceProvider.js"
import { parseStore } from "../../src/reference-provider/ReferenceStore.js"
import { admitAll } from "./admission.js"
import { crdErrors, type SchemaNode } from "./crdValidate.js"
import { type KubeObject, kustomize, readYamlFile, repoRoot } from "./render.js"
import { validateObject } from "./validate.js"

interface SecretSyncSpec {
  readonly serviceAccountName: string
  readonly secretProviderClassName: string
  readonly secretObject: {
    readonly type: string
    readonly labels?: Record<string, string>
    readonly data: ReadonlyArray<{ readonly sourcePath: string; readonly targetKey: string }>
  }
}

const [spcObject] = readYamlFile("examples/sync-controller/secretproviderclass.yaml")
const others = readYamlFile("examples/sync-controller/secretsync.yaml")
const secretSync = others.find((o) => o.kind === "SecretSync")!
const spec = secretSync["spec"] as SecretSyncSpec
const [crd] = readYamlFile("manifests/components/sync-controller/crd-secretsyncs.yaml")
const schema = (crd!["spec"] as { versions: ReadonlyArray<{ schema: { openAPIV3Schema: SchemaNode } }> }).versions[0]!
  .schema.openAPIV3Schema

let policies: ReadonlyArray<KubeObject> = []
beforeAll(async () => {
  policies = (await kustomize("overlays/dev")).filter((o) => o.kind === "ValidatingAdmissionPolicy")
})

describe("examples/sync-controller", () => {
  it("the SecretSync is valid for the CRD; the ServiceAccount for its kind", () => {
    expect(secretSync.apiVersion).toBe("secret-sync.x-k8s.io/v1alpha1")
    expect(crdErrors(secretSync, schema)).toEqual([])
    for (const object of others.filter((o) => o.kind !== "SecretSync")) {
      expect(() => validateObject(object)).not.toThrow()
    }
  })

  it("names a SecretProviderClass and a ServiceAccount of its own namespace", () => {
    const spc = Effect.runSync(decodeSecretProviderClass(spcObject))
    expect(spc.metadata.name).toBe(spec.secretProviderClassName)
    expect(spc.metadata.namespace).toBe(secretSync.metadata.namespace)
    const account = others.find((o) => o.kind === "ServiceAccount")
    expect(account?.metadata).toEqual({ name: spec.serviceAccountName, namespace: secretSync.metadata.namespace })
  })

  it("the reference provider serves every sourcePath from examples/reference/store.yaml", async () => {
    const spc = Effect.runSync(decodeSecretProviderClass(spcObject))
    const storePath = `${repoRoot}examples/reference/store.yaml`
    const response = await Effect.runPromise(
      Effect.gen(function* () {
        const store = yield* parseStore(storePath, readFileSync(storePath, "utf8"))
        return yield* mountFromStore(Effect.succeed(store), {
          attributes: JSON.stringify(spc.spec.parameters),
          secrets: "{}",
          targetPath: "/mnt/secrets-store",
          permission: "420",
          currentObjectVersion: []
        })
      })
    )
    const paths = response.files.map((f) => f.path)
    for (const { sourcePath } of spec.secretObject.data) expect(paths).toContain(sourcePath)
  })

  it("the Secret the controller writes from it passes the admission policies", () => {
    const { name, namespace } = secretSync.metadata
    const object = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name,
        namespace,
        labels: { ...spec.secretObject.labels, "secrets-store.sync.x-k8s.io": "" },
        ownerReferences: [{ apiVersion: secretSync.apiVersion, kind: "SecretSync", name, uid: "0000-1" }]
      },
      type: spec.secretObject.type,
      data: Object.fromEntries(spec.secretObject.data.map((d) => [d.targetKey, "eA=="]))
    }
    const verdict = admitAll(policies, {
      operation: "CREATE",
      username: "system:serviceaccount:kube-system:secrets-store-sync-controller-manager",
      resource: "secrets",
      namespace: namespace!,
      name,
      object,
      oldObject: null
    })
    const applied = ["secrets-store-sync-controller-create-update-policy"]
    expect(verdict).toEqual({ applied, allowed: true, denials: [] })
  })
})
