// The sync controller as deployed (components/sync-controller, overlays/dev): upstream's pod layout (provider
// sidecar on the shared hostPath socket dir, downward-API env, probes, ports, resources), flags the controller
// has with values of their types, and RBAC that never lets its service account read or delete a Secret.
import { readFileSync } from "node:fs"
import { beforeAll, describe, expect, it } from "vitest"
import * as Effect from "effect/Effect"
import { parseGoBool, parseGoDuration, parseGoInt } from "../../src/config/GoValues.js"
import { controllerFlags, parseControllerArgs } from "../../src/sync-controller/ControllerConfig.js"
import {
  type Container,
  containerNamed,
  containersOf,
  findObject,
  type KubeObject,
  kustomize,
  kustomizeWithComponents,
  repoRoot
} from "./render.js"

/** The controller's own flag table (src/sync-controller/ControllerConfig.ts), by Go name, plus --version. */
const controllerFlagTypes: Readonly<Record<string, string>> = {
  ...Object.fromEntries(Object.values(controllerFlags).map((flag) => [flag.name, flag.type])),
  version: "bool"
}

const parseArg = (arg: string) => {
  const match = /^--?([A-Za-z0-9_-]+)(?:=(.*))?$/s.exec(arg)
  return match === null ? undefined : { name: match[1]!, value: match[2] }
}
const fits = (type: string, value: string | undefined) =>
  value === undefined
    ? type === "bool"
    : value.includes("$(")
      ? type === "string"
      : type === "bool"
        ? parseGoBool(value) !== undefined
        : type === "duration"
          ? parseGoDuration(value) !== undefined
          : type === "int" || type === "level"
            ? parseGoInt(value) !== undefined
            : true

const targets = ["components", "overlays/dev"] as const
const rendered = new Map<string, ReadonlyArray<KubeObject>>()
beforeAll(async () => {
  rendered.set("components", await kustomizeWithComponents(["sync-controller", "sync-controller-policies"]))
  rendered.set("overlays/dev", await kustomize("overlays/dev"))
})
const objectsOf = (target: string) => rendered.get(target)!

interface PodSpec {
  readonly serviceAccountName: string
  readonly volumes: ReadonlyArray<{ name: string; hostPath?: { path: string; type: string }; secret?: unknown }>
}
const deploymentOf = (target: string) =>
  findObject(objectsOf(target), "Deployment", "secrets-store-sync-controller-manager")
const podSpecOf = (deployment: KubeObject) => (deployment["spec"] as { template: { spec: PodSpec } }).template.spec
const argValue = (container: Pick<Container, "args">, name: string) =>
  (container.args ?? []).map(parseArg).find((a) => a?.name === name)?.value

describe("flag checking of the test itself", () => {
  it("rejects unknown names and values of the wrong type", () => {
    expect(parseArg("--leader-elect")).toEqual({ name: "leader-elect", value: undefined })
    expect(fits("duration", "12h")).toBe(true)
    expect(fits("duration", "soon")).toBe(false)
    expect(fits("int", "x")).toBe(false)
    expect(fits("string", undefined)).toBe(false)
    expect(controllerFlagTypes["zap-devel"]).toBeUndefined()
  })
})

describe.each(targets)("%s: the sync controller Deployment", (target) => {
  it("runs one replica, recreated on update, as its service account, selecting only its own pods", () => {
    const deployment = deploymentOf(target)
    const spec = deployment["spec"] as {
      replicas: number
      strategy: { type: string }
      selector: { matchLabels: object }
    }
    expect(deployment.metadata.namespace).toBe("kube-system")
    expect(spec.replicas).toBe(1)
    expect(spec.strategy.type).toBe("Recreate")
    const labels = (deployment["spec"] as { template: { metadata: { labels: object } } }).template.metadata.labels
    expect(labels).toEqual(expect.objectContaining(spec.selector.matchLabels))
    expect(spec.selector.matchLabels).toEqual(expect.objectContaining({ app: "secrets-store-sync-controller" }))
    findObject(objectsOf(target), "ServiceAccount", podSpecOf(deployment).serviceAccountName)
  })

  it("passes the manager only flags of the controller, each once, with values of their types", () => {
    const manager = containerNamed(deploymentOf(target), "manager")
    expect(manager.image).toMatch(/^ghcr\.io\/secrets-store-csi-ts\/driver:[\w.-]+$/)
    expect(manager.command).toEqual(["secrets-store-sync-controller"])
    const names = (manager.args ?? []).map((arg) => {
      const parsed = parseArg(arg)
      const type = parsed === undefined ? undefined : controllerFlagTypes[parsed.name]
      expect(type, `${arg} is not a controller flag`).toBeDefined()
      expect(fits(type!, parsed!.value), `${arg} has a value of the wrong type`).toBe(true)
      return parsed!.name
    })
    expect(new Set(names).size).toBe(names.length)
    expect(manager.args).toEqual(expect.arrayContaining(["--provider-volume=/provider", "--leader-elect"]))
    // The controller's own parser accepts the whole command line (downward-API variables as the kubelet expands them).
    const expanded = (manager.args ?? []).map((arg) => arg.replace(/\$\([A-Z_]+\)/g, "kube-system"))
    const parsed = Effect.runSync(Effect.result(parseControllerArgs(expanded)))
    expect(parsed._tag === "Success" && parsed.success._tag, JSON.stringify(parsed)).toBe("Run")
    for (const arg of manager.args ?? []) {
      for (const [, variable] of arg.matchAll(/\$\(([A-Z_]+)\)/g)) {
        expect(
          manager.env?.map((e) => e.name),
          `${arg} expands ${variable}`
        ).toContain(variable)
      }
    }
  })

  it("serves probes and metrics on the ports its flags bind, and gives the downward-API env", () => {
    const manager = containerNamed(deploymentOf(target), "manager") as Omit<Container, "env"> & {
      ports: ReadonlyArray<{ name: string; containerPort: number }>
      livenessProbe: { httpGet: { path: string; port: number } }
      readinessProbe: { httpGet: { path: string; port: number } }
      env: ReadonlyArray<{ name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>
    }
    expect(argValue(manager, "health-probe-bind-address")).toBe(":8081")
    expect(argValue(manager, "metrics-bind-address")).toBe(":8085")
    expect(manager.livenessProbe.httpGet).toEqual({ path: "/healthz", port: 8081 })
    expect(manager.readinessProbe.httpGet).toEqual({ path: "/readyz", port: 8081 })
    expect(manager.ports).toEqual(expect.arrayContaining([{ name: "metrics", containerPort: 8085, protocol: "TCP" }]))
    const fieldRefs = Object.fromEntries(manager.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]))
    expect(fieldRefs).toEqual(
      expect.objectContaining({
        SYNC_CONTROLLER_POD_NAME: "metadata.name",
        SYNC_CONTROLLER_POD_UID: "metadata.uid",
        SYNC_CONTROLLER_POD_NAMESPACE: "metadata.namespace"
      })
    )
  })

  it("runs unprivileged with upstream's resources", () => {
    type Secured = Container & { securityContext: object; resources: object }
    const manager = containerNamed(deploymentOf(target), "manager") as Secured
    expect(manager.securityContext).toEqual(
      expect.objectContaining({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] }
      })
    )
    expect(manager.securityContext).not.toEqual(expect.objectContaining({ privileged: true }))
    expect(manager.resources).toEqual({
      requests: { cpu: "10m", memory: "64Mi" },
      limits: { cpu: "500m", memory: "128Mi" }
    })
  })

  it("shares the hostPath socket dir /var/run/secrets-store-sync-providers at /provider with every container", () => {
    const deployment = deploymentOf(target)
    expect(podSpecOf(deployment).volumes.find((v) => v.name === "providervol")?.hostPath).toEqual({
      path: "/var/run/secrets-store-sync-providers",
      type: "DirectoryOrCreate"
    })
    for (const container of containersOf(deployment)) {
      expect(container.volumeMounts?.find((m) => m.name === "providervol")?.mountPath, container.name).toBe("/provider")
    }
  })
})

describe("overlays/dev: the reference provider as the sidecar", () => {
  it("serves provider `reference` from /provider with its declared flags, from the same image as the manager", () => {
    const deployment = deploymentOf("overlays/dev")
    const provider = containerNamed(deployment, "provider")
    const manager = containerNamed(deployment, "manager")
    expect(provider.command).toEqual(["secrets-store-reference-provider"])
    expect(provider.args).toEqual([
      "--provider-dir=/provider",
      "--name=reference",
      "--store=/etc/reference-provider/store.yaml"
    ])
    const source = readFileSync(`${repoRoot}src/reference-provider/main.ts`, "utf8")
    const declared = source.matchAll(/Flag\.[A-Z]\w*\("([^"]+)"\)/g)
    expect([...declared].map((m) => m[1]).sort()).toEqual(["name", "provider-dir", "store"])
    expect(provider.image).toBe("ghcr.io/secrets-store-csi-ts/driver:dev")
    expect(manager.image).toBe(provider.image)
    expect(podSpecOf(deployment).volumes.find((v) => v.name === "store")?.secret).toEqual(
      expect.objectContaining({ secretName: "reference-provider-store" })
    )
    // The manager's per-provider audience names this provider.
    expect(argValue(manager, "token-request-audience")).toBe("reference=secrets-store-reference")
    expect(argValue(manager, "rotation-poll-interval")).toBe("30s")
  })
})

interface Rule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
  readonly resourceNames?: ReadonlyArray<string>
}
interface Binding {
  readonly roleRef: { readonly kind: string; readonly name: string }
  readonly subjects?: ReadonlyArray<{ readonly kind: string; readonly name: string; readonly namespace?: string }>
}

/** Every rule granted to the controller's service account, with the namespace it holds in ("" = cluster-wide). */
const grantsOf = (objects: ReadonlyArray<KubeObject>) => {
  const bindings = objects
    .filter((o) => o.kind === "ClusterRoleBinding" || o.kind === "RoleBinding")
    .filter((b) =>
      ((b as unknown as Binding).subjects ?? []).some(
        (s) =>
          s.kind === "ServiceAccount" &&
          s.name === "secrets-store-sync-controller-manager" &&
          s.namespace === "kube-system"
      )
    )
  return bindings.flatMap((b) => {
    const { roleRef } = b as unknown as Binding
    const role = findObject(objects, roleRef.kind, roleRef.name)
    const namespace = b.kind === "RoleBinding" ? b.metadata.namespace! : ""
    return ((role["rules"] ?? []) as ReadonlyArray<Rule>).map((rule) => ({ namespace, ...rule }))
  })
}
const verbsOn = (grants: ReturnType<typeof grantsOf>, group: string, resource: string) => {
  const matching = grants.filter((g) => g.apiGroups.includes(group) && g.resources.includes(resource))
  return [...new Set(matching.flatMap((g) => g.verbs))].sort()
}

describe.each(targets)("%s: the controller's RBAC", (target) => {
  it("grants no wildcard, and on Secrets only create and patch: no read, no update, no delete", () => {
    const grants = grantsOf(objectsOf(target))
    expect(grants.length).toBeGreaterThan(0)
    for (const grant of grants) {
      for (const list of [grant.apiGroups, grant.resources, grant.verbs]) expect(list).not.toContain("*")
    }
    expect(verbsOn(grants, "", "secrets")).toEqual(["create", "patch"])
  })

  it("requests tokens, reads SecretProviderClasses and SecretSyncs, writes status and Events", () => {
    const grants = grantsOf(objectsOf(target))
    expect(verbsOn(grants, "", "serviceaccounts/token")).toEqual(["create"])
    expect(verbsOn(grants, "", "serviceaccounts")).toEqual([])
    expect(verbsOn(grants, "secrets-store.csi.x-k8s.io", "secretproviderclasses")).toEqual(["get", "list", "watch"])
    expect(verbsOn(grants, "secret-sync.x-k8s.io", "secretsyncs")).toEqual(["get", "list", "watch"])
    expect(verbsOn(grants, "secret-sync.x-k8s.io", "secretsyncs/status")).toEqual(["get", "patch", "update"])
    expect(verbsOn(grants, "", "events")).toEqual(["create", "patch"])
  })

  it("holds leader election on its own Lease only, in its own namespace", () => {
    const leases = grantsOf(objectsOf(target)).filter((g) => g.apiGroups.includes("coordination.k8s.io"))
    expect(leases.length).toBeGreaterThan(0)
    for (const grant of leases) {
      expect(grant.namespace).toBe(deploymentOf(target).metadata.namespace)
      if (grant.resourceNames === undefined) expect(grant.verbs).toEqual(["create"])
      else expect(grant.resourceNames).toEqual(["29f1d54e.secret-sync.x-k8s.io"])
    }
    expect(verbsOn(leases, "coordination.k8s.io", "leases")).toEqual(["create", "get", "patch", "update"])
  })
})
