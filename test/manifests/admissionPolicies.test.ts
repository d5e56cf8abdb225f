// The admission policies of components/sync-controller-policies, evaluated for real (cel-js) against sample
// admission requests of the controller: what the controller needs passes, everything upstream forbids is denied,
// other users are untouched, and the token policy allows exactly the audiences the Deployment requests.
import { evaluate } from "@marcbachmann/cel-js"
import { beforeAll, describe, expect, it } from "vitest"
import { type AdmissionRequest, admitAll } from "./admission.js"
import { containerNamed, findObject, type KubeObject, kustomize, kustomizeWithComponents } from "./render.js"

const controller = "system:serviceaccount:kube-system:secrets-store-sync-controller-manager"
const policyNames = [
  "secrets-store-sync-controller-create-update-policy",
  "secrets-store-sync-controller-delete-policy",
  "secrets-store-sync-controller-update-check-oldobject-policy",
  "secrets-store-sync-controller-update-label-policy",
  "secrets-store-sync-controller-validate-token-policy"
]

let component: ReadonlyArray<KubeObject> = []
let dev: ReadonlyArray<KubeObject> = []
beforeAll(async () => {
  component = await kustomizeWithComponents(["sync-controller", "sync-controller-policies"])
  dev = await kustomize("overlays/dev")
})
const policiesOf = (objects: ReadonlyArray<KubeObject>) => objects.filter((o) => o.kind === "ValidatingAdmissionPolicy")

const owner = (name: string, overrides: Record<string, unknown> = {}) => ({
  apiVersion: "secret-sync.x-k8s.io/v1alpha1",
  kind: "SecretSync",
  name,
  uid: "6a1d5d1e-0000-4000-8000-000000000001",
  ...overrides
})
const secret = (fields: { type?: string; owners?: ReadonlyArray<unknown>; labels?: Record<string, string> } = {}) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: {
    name: "app-creds",
    namespace: "team-a",
    labels: fields.labels ?? { "secrets-store.sync.x-k8s.io": "" },
    ...(fields.owners === undefined
      ? { ownerReferences: [owner("app-creds")] }
      : fields.owners.length === 0
        ? {}
        : { ownerReferences: fields.owners })
  },
  type: fields.type ?? "Opaque",
  data: { password: "c2VjcmV0" }
})
const secretRequest = (
  operation: AdmissionRequest["operation"],
  object: unknown,
  oldObject: unknown = null,
  username = controller
): AdmissionRequest => ({
  operation,
  username,
  resource: "secrets",
  namespace: "team-a",
  name: "app-creds",
  object,
  oldObject
})
const tokenRequest = (audiences: ReadonlyArray<string>, expirationSeconds = 600): AdmissionRequest => ({
  operation: "CREATE",
  username: controller,
  resource: "serviceaccounts/token",
  namespace: "team-a",
  name: "app",
  object: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { audiences, expirationSeconds } },
  oldObject: null
})

describe("the policies component", () => {
  it("has upstream's five policies of the newer scheme, each failing closed with a cluster-wide Deny binding", () => {
    expect(
      policiesOf(component)
        .map((p) => p.metadata.name)
        .sort()
    ).toEqual(policyNames)
    const bindings = component.filter((o) => o.kind === "ValidatingAdmissionPolicyBinding")
    for (const policy of policiesOf(component)) {
      expect((policy["spec"] as { failurePolicy: string }).failurePolicy).toBe("Fail")
      const binding = bindings.find((b) => (b["spec"] as { policyName: string }).policyName === policy.metadata.name)
      expect(binding?.metadata.name).toBe(`${policy.metadata.name}-binding`)
      expect(binding?.["spec"]).toEqual({ policyName: policy.metadata.name, validationActions: ["Deny"] })
    }
  })

  it("matches the controller's own ServiceAccount, as rendered", () => {
    const account = findObject(component, "ServiceAccount", "secrets-store-sync-controller-manager")
    expect(`system:serviceaccount:${account.metadata.namespace}:${account.metadata.name}`).toBe(controller)
  })
})

describe("Secret writes by the controller", () => {
  const admit = (request: AdmissionRequest) => admitAll(policiesOf(component), request)

  it("allow creating and updating a labelled Secret of an allowed type with one SecretSync owner", () => {
    for (const type of ["Opaque", "kubernetes.io/tls", "kubernetes.io/dockerconfigjson", "kubernetes.io/basic-auth"]) {
      expect(admit(secretRequest("CREATE", secret({ type })))).toEqual(expect.objectContaining({ allowed: true }))
      const update = admit(secretRequest("UPDATE", secret({ type }), secret({ type })))
      const applied = expect.arrayContaining([policyNames[2], policyNames[3]])
      expect(update, type).toEqual({ allowed: true, denials: [], applied })
    }
  })

  it("deny kubernetes.io/service-account-token, and any type off the list", () => {
    const token = admit(secretRequest("CREATE", secret({ type: "kubernetes.io/service-account-token" })))
    expect(token.allowed).toBe(false)
    expect(token.denials[0]).toBe(
      `${policyNames[0]}: secrets-store-sync-controller has failed to CREATE secret with ` +
        "kubernetes.io/service-account-token type in the team-a namespace. " +
        "The controller is not allowed to create or update secrets with this type."
    )
    expect(admit(secretRequest("CREATE", secret({ type: "example.com/custom" }))).allowed).toBe(false)
  })

  it("deny a Secret without exactly one owner that is the SecretSync of its name", () => {
    const cases = [
      [],
      [owner("app-creds"), owner("other")],
      [owner("other")],
      [owner("app-creds", { kind: "Deployment", apiVersion: "apps/v1" })],
      [owner("app-creds", { apiVersion: "example.com/v1" })]
    ]
    for (const owners of cases) {
      expect(admit(secretRequest("CREATE", secret({ owners }))).allowed, JSON.stringify(owners)).toBe(false)
    }
  })

  it("deny updating a Secret not already the SecretSync's: foreign or no owner, label missing or set", () => {
    const ours = secret()
    for (const old of [
      secret({ owners: [] }),
      secret({ owners: [owner("app-creds", { kind: "SealedSecret", apiVersion: "bitnami.com/v1alpha1" })] }),
      secret({ labels: {} }),
      secret({ labels: { "secrets-store.sync.x-k8s.io": "someone-else" } })
    ]) {
      expect(admit(secretRequest("UPDATE", ours, old)).allowed, JSON.stringify(old.metadata)).toBe(false)
    }
  })

  it("deny every delete", () => {
    const verdict = admit(secretRequest("DELETE", null, secret()))
    expect(verdict.applied).toEqual([policyNames[1]])
    expect(verdict.denials).toEqual([
      `${policyNames[1]}: secrets-store-sync-controller has failed to DELETE secrets in the team-a namespace. ` +
        "The controller is not allowed to delete secrets."
    ])
  })

  it("leave other users alone, a same-named service account of another namespace too", () => {
    for (const username of ["system:serviceaccount:team-a:secrets-store-sync-controller-manager", "kubernetes-admin"]) {
      const requests = [
        secretRequest("CREATE", secret({ type: "kubernetes.io/service-account-token", owners: [] }), null, username),
        secretRequest("UPDATE", secret(), secret({ owners: [], labels: {} }), username),
        secretRequest("DELETE", null, secret(), username),
        { ...tokenRequest(["vault"], 3600), username }
      ]
      for (const request of requests) {
        expect(admitAll(policiesOf(dev), request), `${username} ${request.operation} ${request.resource}`).toEqual({
          applied: [],
          allowed: true,
          denials: []
        })
      }
    }
  })
})

describe("token requests by the controller", () => {
  it("deny every token while no audience is configured (the component's default)", () => {
    const verdict = admitAll(policiesOf(component), tokenRequest(["secrets-store-reference"]))
    expect(verdict.applied).toEqual([policyNames[4]])
    expect(verdict.allowed).toBe(false)
  })

  it("with dev's audience: allow one 600 s token for it; deny two audiences, 3600 s, or another audience", () => {
    const admit = (request: AdmissionRequest) => admitAll(policiesOf(dev), request)
    expect(admit(tokenRequest(["secrets-store-reference"]))).toEqual({
      applied: [policyNames[4]],
      allowed: true,
      denials: []
    })
    expect(admit(tokenRequest(["secrets-store-reference", "secrets-store-reference"])).allowed).toBe(false)
    expect(admit(tokenRequest(["secrets-store-reference"], 3600)).allowed).toBe(false)
    expect(admit(tokenRequest(["vault"])).allowed).toBe(false)
    expect(admit(tokenRequest([])).allowed).toBe(false)
    expect(admit(tokenRequest(["secrets-store-reference"])).applied).toEqual([policyNames[4]])
    expect(admit(tokenRequest(["vault"])).denials).toEqual([
      `${policyNames[4]}: secrets-store-sync-controller has ` +
        "failed to CREATE app token in the team-a namespace. Check the configuration."
    ])
  })

  it.each([
    ["components", () => component],
    ["overlays/dev", () => dev]
  ] as const)("%s: the policy allows exactly the audiences the Deployment requests", (_, objects) => {
    const deployment = findObject(objects(), "Deployment", "secrets-store-sync-controller-manager")
    const manager = containerNamed(deployment, "manager")
    const flag = (manager.args ?? []).find((a) => a.startsWith("--token-request-audience="))!
    // Entries are `audience` or `provider=audience`; only the audience reaches the TokenRequest.
    const requested = flag
      .slice("--token-request-audience=".length)
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e !== "")
      .map((e) => e.slice(e.indexOf("=") + 1).trim())
    const policy = findObject(objects(), "ValidatingAdmissionPolicy", policyNames[4]!)
    const { variables } = policy["spec"] as { variables: ReadonlyArray<{ name: string; expression: string }> }
    const variable = variables[0]!
    expect(variable.name).toBe("allowedAudiences")
    const allowed = evaluate(variable.expression) as ReadonlyArray<string>
    expect([...allowed].sort()).toEqual([...new Set(requested)].sort())
  })
})
