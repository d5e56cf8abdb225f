// The validation cases of upstream's SecretSync API, against our CRD's own schema: the patterns compiled from the
// YAML, the list-map keys, the lengths, and the CEL rules on labels and annotations evaluated with cel-js, with
// the API server's exact messages.
import { describe, expect, it } from "vitest"
import { crdErrors, type SchemaNode } from "./crdValidate.js"
import { readYamlFile } from "./render.js"

const [crdObject] = readYamlFile("manifests/components/sync-controller/crd-secretsyncs.yaml")
const schema = (crdObject!["spec"] as { versions: ReadonlyArray<{ schema: { openAPIV3Schema: SchemaNode } }> })
  .versions[0]!.schema.openAPIV3Schema
const spec = schema.properties!["spec"]!
const secretObject = spec.properties!["secretObject"]!
const dataItem = secretObject.properties!["data"]!.items!

const patternOf = (node: SchemaNode | undefined) => {
  if (node?.pattern === undefined) throw new Error("no pattern")
  return new RegExp(node.pattern, "u")
}
const errors = (object: unknown) => crdErrors(object, schema)

interface Fields {
  readonly spec?: Record<string, unknown>
  readonly secretObject?: Record<string, unknown>
  readonly status?: unknown
}
const secretSync = (fields: Fields) => ({
  apiVersion: "secret-sync.x-k8s.io/v1alpha1",
  kind: "SecretSync",
  metadata: { name: "sse2esecret", namespace: "default" },
  spec: {
    secretProviderClassName: "vault-spc",
    serviceAccountName: "default",
    secretObject: { type: "Opaque", data: [{ sourcePath: "foo", targetKey: "bar" }], ...fields.secretObject },
    ...fields.spec
  },
  ...(fields.status === undefined ? {} : { status: fields.status })
})
const withData = (data: ReadonlyArray<{ sourcePath: string; targetKey: string }>) =>
  secretSync({ secretObject: { data } })

const accepted = ["tls.crt", "ca.crt", ".dockerconfigjson", "foo_bar", "key/0/1", "a-"]
const rejected = ["a.b", "a_b", "x.y.z", "FOO__BAR"]

describe("sourcePath and targetKey", () => {
  it("share one pattern, with lengths 1..253", () => {
    expect(dataItem.properties!["sourcePath"]!.pattern).toBe(dataItem.properties!["targetKey"]!.pattern)
    for (const field of ["sourcePath", "targetKey"]) {
      expect(dataItem.properties![field]).toEqual(expect.objectContaining({ minLength: 1, maxLength: 253 }))
    }
  })

  it.each(accepted)("accept %s", (value) => {
    expect(patternOf(dataItem.properties!["sourcePath"]).test(value)).toBe(true)
    expect(errors(withData([{ sourcePath: value, targetKey: value }]))).toEqual([])
  })

  it.each(rejected)("reject %s", (value) => {
    expect(patternOf(dataItem.properties!["targetKey"]).test(value)).toBe(false)
    const pattern = dataItem.properties!["targetKey"]!.pattern
    expect(errors(withData([{ sourcePath: value, targetKey: value }]))).toEqual([
      `spec.secretObject.data[0].sourcePath: Invalid value: should match '${pattern}'`,
      `spec.secretObject.data[0].targetKey: Invalid value: should match '${pattern}'`
    ])
  })

  it("reject a targetKey twice (list-map key) but allow one sourcePath under two keys", () => {
    expect(
      errors(
        withData([
          { sourcePath: "a", targetKey: "k" },
          { sourcePath: "b", targetKey: "k" }
        ])
      )
    ).toEqual(['spec.secretObject.data[1]: Duplicate value: ["k"]'])
    expect(
      errors(
        withData([
          { sourcePath: "a", targetKey: "k1" },
          { sourcePath: "a", targetKey: "k2" }
        ])
      )
    ).toEqual([])
  })

  it("reject an empty or a 254-character value", () => {
    expect(errors(withData([{ sourcePath: "", targetKey: "k" }]))).toContain(
      "spec.secretObject.data[0].sourcePath: Invalid value: should be at least 1 chars long"
    )
    expect(errors(withData([{ sourcePath: "s", targetKey: "k".repeat(254) }]))).toEqual([
      "spec.secretObject.data[0].targetKey: Too long: may not be more than 253 bytes"
    ])
  })
})

describe("secretProviderClassName and serviceAccountName", () => {
  it("are DNS-1123 subdomains of at most 253 characters", () => {
    for (const field of ["secretProviderClassName", "serviceAccountName"]) {
      expect(errors(secretSync({ spec: { [field]: "spc.example-1" } }))).toEqual([])
      expect(errors(secretSync({ spec: { [field]: "My_SPC" } }))).toHaveLength(1)
      expect(errors(secretSync({ spec: { [field]: "a".repeat(254) } }))).toEqual([
        `spec.${field}: Too long: may not be more than 253 bytes`
      ])
    }
  })
})

describe("forceSynchronization", () => {
  const pattern = patternOf(spec.properties!["forceSynchronization"])

  it("accepts a date, rejects an RFC 3339 timestamp (colons)", () => {
    expect(pattern.test("2024-01-01")).toBe(true)
    expect(pattern.test("2024-01-01T00:00:00Z")).toBe(false)
    expect(errors(secretSync({ spec: { forceSynchronization: "2024-01-01" } }))).toEqual([])
    expect(errors(secretSync({ spec: { forceSynchronization: "2024-01-01T00:00:00Z" } }))).toHaveLength(1)
    expect(errors(secretSync({ spec: { forceSynchronization: "a".repeat(254) } }))).toEqual([
      "spec.forceSynchronization: Too long: may not be more than 253 bytes"
    ])
  })
})

const sizeMessage = (field: "labels" | "annotations", limit: number) =>
  `spec.secretObject.${field}: Invalid value: "object": ${field === "labels" ? "Labels" : "Annotations"} ` +
  `should have < ${limit} characters for both keys and values.`
const reservedMessage = (field: "labels" | "annotations") =>
  `spec.secretObject.${field}: Invalid value: "object": ${field === "labels" ? "Labels" : "Annotations"} ` +
  "should not contain secrets-store.sync.x-k8s.io. This key is reserved for the controller."

describe.each([
  ["labels", 63],
  ["annotations", 253]
] as const)("secretObject.%s (CEL rules)", (field, limit) => {
  const object = (map: Record<string, string>) => secretSync({ secretObject: { [field]: map } })

  it(`accept keys and values under ${limit} characters`, () => {
    expect(errors(object({ "app.kubernetes.io/name": "web", ["k".repeat(limit - 1)]: "v".repeat(limit - 1) }))).toEqual(
      []
    )
  })

  it(`reject a key or a value of ${limit} characters with the exact message`, () => {
    expect(errors(object({ ["k".repeat(limit)]: "v" }))).toEqual([sizeMessage(field, limit)])
    expect(errors(object({ k: "v".repeat(limit) }))).toEqual([sizeMessage(field, limit)])
  })

  it("reject a key with the reserved prefix, with the exact message", () => {
    expect(errors(object({ "secrets-store.sync.x-k8s.io": "" }))).toEqual([reservedMessage(field)])
    expect(errors(object({ "secrets-store.sync.x-k8s.io/secretsync": "x" }))).toEqual([reservedMessage(field)])
    expect(errors(object({ "example.com/secrets-store.sync.x-k8s.io": "x" }))).toEqual([])
  })
})

describe("status", () => {
  const condition = (type: string) => ({
    type,
    status: "True",
    reason: "CreateSuccessful",
    message: "Secret created successfully.",
    lastTransitionTime: "2026-01-01T00:00:00Z"
  })

  it("takes the controller's status: syncHash, lastSuccessfulSyncTime, up to 16 conditions keyed by type", () => {
    const status = { syncHash: "v1:ab", lastSuccessfulSyncTime: "2026-01-01T00:00:00Z" }
    const both = [condition("SecretCreated"), condition("SecretUpdated")]
    expect(errors(secretSync({ status: { ...status, conditions: both } }))).toEqual([])
    const sixteen = Array.from({ length: 16 }, (_, i) => condition(`Type${i}`))
    expect(errors(secretSync({ status: { conditions: sixteen } }))).toEqual([])
    expect(errors(secretSync({ status: { conditions: [...sixteen, condition("Type16")] } }))).toEqual([
      "status.conditions: Too many: 17: must have at most 16 items"
    ])
    expect(
      errors(secretSync({ status: { conditions: [condition("SecretCreated"), condition("SecretCreated")] } }))
    ).toEqual(['status.conditions[1]: Duplicate value: ["SecretCreated"]'])
    expect(
      errors(secretSync({ status: { conditions: [{ ...condition("SecretCreated"), status: "Maybe" }] } }))
    ).toEqual(['status.conditions[0].status: Unsupported value: "Maybe"'])
  })
})
