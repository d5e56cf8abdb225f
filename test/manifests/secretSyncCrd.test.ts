// The SecretSync CRD (components/sync-controller) is v0.0.4's API: its identity and field set, and the validation
// cases of upstream's API, run through the CRD's own schema (patterns compiled from the YAML, CEL rules evaluated).
import { describe, expect, it } from "vitest"
import { crdErrors, type SchemaNode } from "./crdValidate.js"
import { readYamlFile } from "./render.js"
import { structuralViolations } from "./structural.js"

interface Version {
  readonly name: string
  readonly served: boolean
  readonly storage: boolean
  readonly subresources?: unknown
  readonly additionalPrinterColumns?: ReadonlyArray<{ readonly name: string; readonly jsonPath: string }>
  readonly schema: { readonly openAPIV3Schema: SchemaNode }
}
interface CrdSpec {
  readonly group: string
  readonly scope: string
  readonly names: Readonly<Record<string, string>>
  readonly versions: ReadonlyArray<Version>
}

const [crdObject] = readYamlFile("manifests/components/sync-controller/crd-secretsyncs.yaml")
const crd = crdObject!["spec"] as CrdSpec
const version = crd.versions[0]!
const schema = version.schema.openAPIV3Schema

const at = (...path: ReadonlyArray<string>): SchemaNode =>
  path.reduce<SchemaNode>((node, key) => {
    const next = key === "[]" ? node.items : node.properties?.[key]
    if (next === undefined) throw new Error(`schema has no ${path.join(".")}`)
    return next
  }, schema)
const fieldsAt = (...path: ReadonlyArray<string>) => Object.keys(at(...path).properties ?? {}).sort()

const secretSync = (spec: Record<string, unknown>, status?: Record<string, unknown>) => ({
  apiVersion: "secret-sync.x-k8s.io/v1alpha1",
  kind: "SecretSync",
  metadata: { name: "sse2esecret", namespace: "default" },
  spec: {
    secretProviderClassName: "vault-spc",
    serviceAccountName: "default",
    secretObject: { type: "Opaque", data: [{ sourcePath: "foo", targetKey: "bar" }] },
    ...spec
  },
  ...(status === undefined ? {} : { status })
})
const withSecretObject = (fields: Record<string, unknown>) =>
  secretSync({ secretObject: { type: "Opaque", data: [{ sourcePath: "foo", targetKey: "bar" }], ...fields } })
const errors = (object: unknown) => crdErrors(object, schema)

describe("crdErrors (the test's validator)", () => {
  it("reports each rule a value breaks, after defaults", () => {
    const tiny: SchemaNode = {
      type: "object",
      required: ["a"],
      properties: {
        a: { type: "string", pattern: "^x+$", maxLength: 3 },
        d: { type: "string", default: "dflt", enum: ["dflt"] },
        l: {
          type: "array",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["k"],
          items: { type: "object", properties: { k: { type: "integer" } } }
        },
        m: {
          type: "object",
          additionalProperties: { type: "string" },
          "x-kubernetes-validations": [{ rule: "size(self) < 2", message: "small" }]
        }
      }
    }
    expect(crdErrors({ a: "xx" }, tiny)).toEqual([])
    expect(crdErrors({}, tiny)).toEqual(["a: Required value"])
    expect(crdErrors({ a: "xy" }, tiny)).toEqual(["a: Invalid value: should match '^x+$'"])
    expect(crdErrors({ a: "xxxx" }, tiny)).toEqual(["a: Too long: may not be more than 3 bytes"])
    expect(crdErrors({ a: "x", d: "other" }, tiny)).toEqual(['d: Unsupported value: "other"'])
    expect(crdErrors({ a: "x", l: [{ k: 1 }, { k: 1 }] }, tiny)).toEqual(["l[1]: Duplicate value: [1]"])
    expect(crdErrors({ a: "x", m: { p: "1", q: "2" } }, tiny)).toEqual(['m: Invalid value: "object": small'])
    expect(crdErrors({ a: "x", z: 1 }, tiny)).toEqual(["z: unknown field"])
    expect(crdErrors({ a: 1 }, tiny)).toEqual(['a: Invalid value: "integer": must be of type string'])
  })
})

describe("the SecretSync CRD", () => {
  it("is secretsyncs.secret-sync.x-k8s.io: namespaced, v1alpha1 only, served and stored, status subresource", () => {
    expect(crdObject!.metadata.name).toBe("secretsyncs.secret-sync.x-k8s.io")
    expect(crd.group).toBe("secret-sync.x-k8s.io")
    expect(crd.scope).toBe("Namespaced")
    expect(crd.names).toEqual({
      kind: "SecretSync",
      listKind: "SecretSyncList",
      plural: "secretsyncs",
      singular: "secretsync"
    })
    expect(crd.versions.map((v) => [v.name, v.served, v.storage])).toEqual([["v1alpha1", true, true]])
    expect(version.subresources).toEqual({ status: {} })
    expect(structuralViolations(schema)).toEqual([])
  })

  it("has v0.0.4's fields, required ones and list-map keys", () => {
    expect(fieldsAt()).toEqual(["apiVersion", "kind", "metadata", "spec", "status"])
    expect(fieldsAt("spec")).toEqual([
      "forceSynchronization",
      "secretObject",
      "secretProviderClassName",
      "secretSyncControllerName",
      "serviceAccountName"
    ])
    expect(at("spec").required).toEqual(["secretObject", "secretProviderClassName", "serviceAccountName"])
    expect(schema.required).toBeUndefined()
    expect(fieldsAt("spec", "secretObject")).toEqual(["annotations", "data", "labels", "type"])
    expect(at("spec", "secretObject").required).toEqual(["data", "type"])
    expect(fieldsAt("spec", "secretObject", "data", "[]")).toEqual(["sourcePath", "targetKey"])
    expect(at("spec", "secretObject", "data")).toEqual(
      expect.objectContaining({
        minItems: 1,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["targetKey"]
      })
    )
    expect(fieldsAt("status")).toEqual(["conditions", "lastSuccessfulSyncTime", "syncHash"])
    expect(at("status", "conditions")).toEqual(
      expect.objectContaining({
        maxItems: 16,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"]
      })
    )
    expect(fieldsAt("status", "conditions", "[]")).toEqual([
      "lastTransitionTime",
      "message",
      "observedGeneration",
      "reason",
      "status",
      "type"
    ])
  })

  it("printer columns read only fields the schema has", () => {
    /** Follows a column's JSONPath (filters dropped) through the schema, stepping into items at each array. */
    const resolve = (jsonPath: string): SchemaNode =>
      jsonPath
        .replace(/\[\?\(.*?\)\]/g, "")
        .split(".")
        .filter((p) => p !== "")
        .reduce<SchemaNode>((node, key) => {
          const next = (node.type === "array" ? node.items : node)?.properties?.[key]
          if (next === undefined) throw new Error(`${jsonPath}: no ${key}`)
          return next
        }, schema)
    const columns = version.additionalPrinterColumns ?? []
    expect(columns.map((c) => c.name)).toContain("Age")
    for (const column of columns.filter((c) => !c.jsonPath.startsWith(".metadata."))) {
      expect(() => resolve(column.jsonPath), column.name).not.toThrow()
    }
    expect(() => resolve(".spec.secretObject.typo")).toThrow()
  })

  it('accepts a minimal SecretSync and defaults secretSyncControllerName to ""', () => {
    expect(errors(secretSync({}))).toEqual([])
    const { spec: _spec, ...noSpec } = secretSync({})
    expect(errors(noSpec), "spec itself is not required").toEqual([])
    expect(at("spec", "secretSyncControllerName").default).toBe("")
  })

  it("requires secretProviderClassName, serviceAccountName, secretObject, its type and at least one data item", () => {
    const { secretProviderClassName: _a, serviceAccountName: _b, secretObject: _c, ...spec } = secretSync({}).spec
    expect(errors({ ...secretSync({}), spec })).toEqual([
      "spec.secretObject: Required value",
      "spec.secretProviderClassName: Required value",
      "spec.serviceAccountName: Required value"
    ])
    expect(errors(secretSync({ secretObject: { data: [{ sourcePath: "a", targetKey: "a" }] } }))).toEqual([
      "spec.secretObject.type: Required value"
    ])
    expect(errors(withSecretObject({ type: "" }))).toEqual([
      "spec.secretObject.type: Invalid value: should be at least 1 chars long"
    ])
    expect(errors(withSecretObject({ data: [] }))).toEqual([
      "spec.secretObject.data: Invalid value: should have at least 1 items"
    ])
  })
})
