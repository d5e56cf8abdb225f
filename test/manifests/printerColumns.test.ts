// The CRDs' `kubectl get` columns: each column's JSONPath, evaluated the way kubectl does (dots in a key escaped
// with a backslash), finds a value of the column's type on a SecretProviderClassPodStatus the driver really writes
// (PodStatuses.layer against the fake API server) and on an SPC; the columns are the same in every served version.
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { KubeApi } from "../../src/k8s/KubeApi.js"
import { PodStatuses } from "../../src/k8s/PodStatuses.js"
import { fakeApiServer } from "../support/FakeApiServer.js"
import { resources } from "../support/FakeApiStore.js"
import { readYamlFile } from "./render.js"

interface Column {
  readonly name: string
  readonly type: string
  readonly jsonPath: string
}
interface Crd {
  readonly spec: { readonly versions: ReadonlyArray<{ name: string; additionalPrinterColumns?: Array<Column> }> }
}

const columnsOf = (file: string) => {
  const crd = readYamlFile(file)[0] as unknown as Crd
  return crd.spec.versions.map((v) => [v.name, v.additionalPrinterColumns ?? []] as const)
}

/** A simple JSONPath (`.a.b\.c/d`) as kubectl evaluates it: split on dots that are not escaped. */
const evaluate = (object: unknown, jsonPath: string): unknown =>
  jsonPath
    .slice(1)
    .split(/(?<!\\)\./)
    .map((key) => key.replaceAll("\\.", "."))
    .reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], object)

const typeOk = (type: string, value: unknown) =>
  type === "date" ? typeof value === "string" && !Number.isNaN(Date.parse(value)) : typeof value === type

describe("printer columns", () => {
  it("SecretProviderClassPodStatus: Pod, Class, Node, Mounted, Age in v1 and v1alpha1", () => {
    const versions = columnsOf("manifests/base/crd-secretproviderclasspodstatuses.yaml")
    for (const [, columns] of versions) {
      assert.deepStrictEqual(
        columns.map((c) => c.name),
        ["Pod", "Class", "Node", "Mounted", "Age"]
      )
    }
    assert.deepStrictEqual(versions[0]?.[1], versions[1]?.[1])
  })

  it("SecretProviderClass: Provider, Age in v1 and v1alpha1", () => {
    const versions = columnsOf("manifests/base/crd-secretproviderclasses.yaml")
    for (const [, columns] of versions)
      assert.deepStrictEqual(
        columns.map((c) => c.name),
        ["Provider", "Age"]
      )
    const spc = {
      metadata: { name: "db", creationTimestamp: "2026-01-01T00:00:00Z" },
      spec: { provider: "vault" }
    }
    for (const column of versions[0]?.[1] ?? []) assert.isTrue(typeOk(column.type, evaluate(spc, column.jsonPath)))
  })

  it.live("every SPCPS column finds a value of its type on the object the driver writes", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* fakeApiServer()
        yield* Effect.gen(function* () {
          yield* (yield* PodStatuses).upsert({
            podName: "web-0",
            podNamespace: "ns1",
            podUid: "uid-1",
            spcName: "azure",
            nodeId: "node-a",
            targetPath: "/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~csi/vol/mount",
            objects: []
          })
        }).pipe(
          Effect.provide(
            PodStatuses.layer.pipe(
              Layer.provide(KubeApi.layer({ kubeconfig: server.kubeconfigPath })),
              Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({})))
            )
          )
        )
        const resource = resources.find((r) => r.plural === "secretproviderclasspodstatuses")!
        const [written] = server.store.list(resource, "ns1")
        const [, columns] = columnsOf("manifests/base/crd-secretproviderclasspodstatuses.yaml")[0]!
        const values = columns.map((c) => [c.name, evaluate(written, c.jsonPath)])
        assert.deepStrictEqual(values.slice(0, 4), [
          ["Pod", "web-0"],
          ["Class", "azure"],
          ["Node", "node-a"],
          ["Mounted", true]
        ])
        for (const column of columns)
          assert.isTrue(typeOk(column.type, evaluate(written, column.jsonPath)), column.name)
      })
    )
  )
})
