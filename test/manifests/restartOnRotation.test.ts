// components/restart-on-rotation, rendered by `kubectl kustomize`: exactly the access a restart needs (get/patch of
// Deployments, StatefulSets and DaemonSets, get of ReplicaSets; pods are read under base's role) for the driver's
// ServiceAccount, and nothing of it in base or any overlay.
import { beforeAll, describe, expect, it } from "vitest"
import { findObject, type KubeObject, kustomize, kustomizeWithComponents, overlays } from "./render.js"

interface Rule {
  readonly apiGroups?: ReadonlyArray<string>
  readonly resources?: ReadonlyArray<string>
  readonly verbs?: ReadonlyArray<string>
}

const rulesOf = (o: KubeObject): ReadonlyArray<Rule> => (o["rules"] as ReadonlyArray<Rule> | undefined) ?? []

/** Every (group, resource, verb) a set of ClusterRoles grants, as sorted strings. */
const grants = (objects: ReadonlyArray<KubeObject>, group: string) =>
  objects
    .filter((o) => o.kind === "ClusterRole")
    .flatMap(rulesOf)
    .filter((r) => r.apiGroups?.includes(group))
    .flatMap((r) => (r.resources ?? []).flatMap((res) => (r.verbs ?? []).map((v) => `${res}:${v}`)))
    .sort()

let withComponent: ReadonlyArray<KubeObject>
const plain = new Map<string, ReadonlyArray<KubeObject>>()

beforeAll(async () => {
  withComponent = await kustomizeWithComponents(["rotation", "restart-on-rotation"])
  for (const target of ["base", ...overlays.map((o) => `overlays/${o}`)]) plain.set(target, await kustomize(target))
})

describe("components/restart-on-rotation", () => {
  it("grants get/patch on deployments, statefulsets, daemonsets and get on replicasets, nothing more", () => {
    expect(grants(withComponent, "apps")).toEqual([
      "daemonsets:get",
      "daemonsets:patch",
      "deployments:get",
      "deployments:patch",
      "replicasets:get",
      "statefulsets:get",
      "statefulsets:patch"
    ])
  })

  it("binds the role to the node plugin's ServiceAccount, which base lets read pods", () => {
    const binding = findObject(withComponent, "ClusterRoleBinding", "secretproviderclasses-restart-rolebinding")
    expect(binding["roleRef"]).toMatchObject({ kind: "ClusterRole", name: "secretproviderclasses-restart-role" })
    expect(binding["subjects"]).toEqual([
      { kind: "ServiceAccount", name: "secrets-store-csi-driver", namespace: "kube-system" }
    ])
    const daemonSet = findObject(withComponent, "DaemonSet", "csi-secrets-store")
    expect((daemonSet["spec"] as { template: { spec: { serviceAccountName: string } } }).template.spec).toMatchObject({
      serviceAccountName: "secrets-store-csi-driver"
    })
    expect(grants(withComponent, "")).toContain("pods:get")
  })

  it.each(["base", ...overlays.map((o) => `overlays/${o}`)])("%s grants no access to workloads", (target) => {
    expect(grants(plain.get(target)!, "apps")).toEqual([])
  })
})
