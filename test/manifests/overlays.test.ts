// Every overlay (and the base) renders with `kubectl kustomize`, and every rendered object is valid for its kind:
// the Kubernetes OpenAPI schema (kubernetes-models), no unknown fields, structural CRD schemas. Then what each
// overlay promises: base without Secret access, production pinned by digest, dev verbose with sync, rotation and
// the reference provider, kubelet-root with no default kubelet path left.
import { beforeAll, describe, expect, it } from "vitest"
import { modelOf, unknownFields } from "./knownFields.js"
import {
  components,
  containerNamed,
  findObject,
  type KubeObject,
  kustomize,
  kustomizeWithComponents,
  overlays
} from "./render.js"
import { structuralViolations } from "./structural.js"
import { validateObject } from "./validate.js"

/** The base, each overlay, and the base with every component (token-requests is in no overlay). */
const allComponents = "base + all components"
const targets = ["base", ...overlays.map((o) => `overlays/${o}`), allComponents] as const
const rendered = new Map<string, ReadonlyArray<KubeObject>>()

beforeAll(async () => {
  for (const target of targets) {
    rendered.set(target, target === allComponents ? await kustomizeWithComponents(components) : await kustomize(target))
  }
})

const objectsOf = (target: string): ReadonlyArray<KubeObject> => {
  const objects = rendered.get(target)
  if (objects === undefined) throw new Error(`${target} not rendered`)
  return objects
}

interface Rule {
  readonly apiGroups?: ReadonlyArray<string>
  readonly resources?: ReadonlyArray<string>
}

const rulesOf = (role: KubeObject): ReadonlyArray<Rule> => (role["rules"] as ReadonlyArray<Rule> | undefined) ?? []
const grantsSecrets = (objects: ReadonlyArray<KubeObject>) =>
  objects.some(
    (o) =>
      o.kind === "ClusterRole" && rulesOf(o).some((r) => r.apiGroups?.includes("") && r.resources?.includes("secrets"))
  )

describe.each(targets)("%s", (target) => {
  it("renders the CRDs, the CSIDriver, RBAC and the driver DaemonSet", () => {
    const objects = objectsOf(target)
    findObject(objects, "CustomResourceDefinition", "secretproviderclasses.secrets-store.csi.x-k8s.io")
    findObject(objects, "CustomResourceDefinition", "secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io")
    findObject(objects, "CSIDriver", "secrets-store.csi.k8s.io")
    findObject(objects, "ServiceAccount", "secrets-store-csi-driver")
    findObject(objects, "ClusterRoleBinding", "secretproviderclasses-rolebinding")
    findObject(objects, "DaemonSet", "csi-secrets-store")
  })

  it("every object validates against its kind's OpenAPI schema", () => {
    for (const object of objectsOf(target)) {
      expect(() => validateObject(object), `${object.kind}/${object.metadata.name}`).not.toThrow()
    }
  })

  it("no object has a field its kind does not know", () => {
    for (const object of objectsOf(target)) {
      expect(
        unknownFields(object, modelOf(object.apiVersion, object.kind)),
        `${object.kind}/${object.metadata.name}`
      ).toEqual([])
    }
  })

  it("every CRD version's schema is structural", () => {
    const crds = objectsOf(target).filter((o) => o.kind === "CustomResourceDefinition")
    // The SecretSync CRD comes with components/sync-controller, in dev and in the all-components build.
    expect(crds).toHaveLength(target === "overlays/dev" || target === allComponents ? 3 : 2)
    for (const crd of crds) {
      const versions = (
        crd["spec"] as { versions: ReadonlyArray<{ name: string; schema?: { openAPIV3Schema?: unknown } }> }
      ).versions
      for (const version of versions) {
        expect(structuralViolations(version.schema?.openAPIV3Schema), `${crd.metadata.name} ${version.name}`).toEqual(
          []
        )
      }
    }
  })

  it("the driver's pods dir is mounted Bidirectional at the same path as on the host", () => {
    const daemonSet = findObject(objectsOf(target), "DaemonSet", "csi-secrets-store")
    const mount = containerNamed(daemonSet, "secrets-store").volumeMounts?.find((m) => m.name === "mountpoint-dir")
    const volumes = (
      daemonSet["spec"] as {
        template: { spec: { volumes: ReadonlyArray<{ name: string; hostPath?: { path: string } }> } }
      }
    ).template.spec.volumes
    expect(mount?.mountPropagation).toBe("Bidirectional")
    expect(mount?.mountPath).toBe(volumes.find((v) => v.name === "mountpoint-dir")?.hostPath?.path)
  })
})

describe("what each overlay promises", () => {
  it("base and production grant no access to Secrets; dev (secret-sync) does", () => {
    expect(grantsSecrets(objectsOf("base"))).toBe(false)
    expect(grantsSecrets(objectsOf("overlays/production"))).toBe(false)
    expect(grantsSecrets(objectsOf("overlays/dev"))).toBe(true)
    findObject(objectsOf("overlays/dev"), "ClusterRoleBinding", "secretprovidersyncing-rolebinding")
  })

  it("production pins the driver image by digest", () => {
    const daemonSet = findObject(objectsOf("overlays/production"), "DaemonSet", "csi-secrets-store")
    expect(containerNamed(daemonSet, "secrets-store").image).toMatch(
      /^ghcr\.io\/secrets-store-csi-ts\/driver@sha256:[0-9a-f]{64}$/
    )
  })

  it("dev logs at -v=5 with rotation every 30s, and runs the reference provider from the dev image", () => {
    const objects = objectsOf("overlays/dev")
    const driver = containerNamed(findObject(objects, "DaemonSet", "csi-secrets-store"), "secrets-store")
    expect(driver.args).toEqual(
      expect.arrayContaining(["-v=5", "--enable-secret-rotation=true", "--rotation-poll-interval=30s"])
    )
    expect(driver.args).not.toContain("--rotation-poll-interval=2m")
    const provider = containerNamed(
      findObject(objects, "DaemonSet", "csi-secrets-store-reference-provider"),
      "provider"
    )
    expect(provider.image).toBe("ghcr.io/secrets-store-csi-ts/driver:dev")
    expect(driver.image).toBe(provider.image)
  })

  it("kubelet-root leaves no path under the default kubelet root", () => {
    const text = JSON.stringify(objectsOf("overlays/kubelet-root"))
    expect(text).toContain("/var/snap/microk8s/common/var/lib/kubelet/pods")
    // The driver itself must know the root: it refuses targets outside it.
    expect(text).toContain("--kubelet-root-dir=/var/snap/microk8s/common/var/lib/kubelet")
    expect(text.replaceAll("/var/snap/microk8s/common/var/lib/kubelet", "")).not.toContain("/var/lib/kubelet")
  })

  it("the CSIDriver matches upstream's static manifest; token-requests adds audiences, fsgroup the policy", () => {
    const upstream = {
      podInfoOnMount: true,
      attachRequired: false,
      volumeLifecycleModes: ["Ephemeral"],
      requiresRepublish: true
    }
    expect(findObject(objectsOf("base"), "CSIDriver", "secrets-store.csi.k8s.io")["spec"]).toEqual(upstream)
    const { tokenRequests, fsGroupPolicy, ...rest } = findObject(
      objectsOf(allComponents),
      "CSIDriver",
      "secrets-store.csi.k8s.io"
    )["spec"] as Record<string, unknown>
    expect(rest).toEqual(upstream)
    expect(tokenRequests).toEqual(expect.arrayContaining([expect.objectContaining({ audience: expect.any(String) })]))
    expect(fsGroupPolicy).toBe("File")
  })
})
