// The CRDs as upstream v1.6.0 ships them (docs/upstream.md#crds), held to the structural-schema rules, and field for
// field the same as the driver's own Schema (src/domain/SecretProviderClass.ts), so the two cannot drift apart.
import type * as SchemaAST from "effect/SchemaAST"
import { describe, expect, it } from "vitest"
import {
  PodStatusObject,
  SecretObject,
  SecretObjectData,
  SecretProviderClassPodStatus,
  SecretProviderClassSpec
} from "../../src/domain/SecretProviderClass.js"
import { readYamlFile } from "./render.js"
import { structuralViolations } from "./structural.js"

interface Props {
  readonly type?: string
  readonly properties?: Readonly<Record<string, Props>>
  readonly items?: Props
}
interface Version {
  readonly name: string
  readonly served: boolean
  readonly storage: boolean
  readonly deprecated?: boolean
  readonly deprecationWarning?: string
  readonly subresources?: unknown
  readonly schema: { readonly openAPIV3Schema: Props }
}
interface CrdSpec {
  readonly group: string
  readonly scope: string
  readonly names: { readonly kind: string; readonly plural: string }
  readonly versions: ReadonlyArray<Version>
}

const crd = (file: string): CrdSpec => {
  const [object] = readYamlFile(`manifests/base/${file}`)
  return object!["spec"] as CrdSpec
}
const spc = crd("crd-secretproviderclasses.yaml")
const spcps = crd("crd-secretproviderclasspodstatuses.yaml")

const at = (root: Props, ...path: ReadonlyArray<string>): Props =>
  path.reduce<Props>((node, key) => {
    const next = key === "[]" ? node.items : node.properties?.[key]
    if (next === undefined) throw new Error(`schema has no ${path.join(".")}`)
    return next
  }, root)
const keysAt = (root: Props, ...path: ReadonlyArray<string>) => Object.keys(at(root, ...path).properties ?? {}).sort()

/** The field names of a Struct inside a Schema's AST, following property names. */
const astFields = (ast: SchemaAST.AST, ...path: ReadonlyArray<string>): ReadonlyArray<string> => {
  const node = path.reduce<SchemaAST.AST>((current, name) => {
    const found = current._tag === "Objects" ? current.propertySignatures.find((p) => p.name === name) : undefined
    if (found === undefined) throw new Error(`Schema has no ${path.join(".")}`)
    return found.type
  }, ast)
  if (node._tag !== "Objects") throw new Error(`${path.join(".")} is not a Struct`)
  return node.propertySignatures.map((p) => String(p.name)).sort()
}
const sorted = (fields: object) => Object.keys(fields).sort()

describe("structuralViolations", () => {
  it("accepts a typed tree and names each rule a schema breaks", () => {
    expect(
      structuralViolations({ type: "object", properties: { a: { type: "array", items: { type: "string" } } } })
    ).toEqual([])
    expect(structuralViolations({ type: "object", properties: { a: { description: "untyped" } } })).toEqual([
      "root.properties.a: type is missing"
    ])
    expect(
      structuralViolations({
        type: "object",
        properties: { a: { type: "object", properties: {}, additionalProperties: { type: "string" } } }
      })
    ).toEqual(["root.properties.a: properties and additionalProperties are mutually exclusive"])
    expect(structuralViolations({ type: "object", properties: { a: { type: "array" } } })).toEqual([
      "root.properties.a: an array needs items as one schema"
    ])
    expect(
      structuralViolations({ type: "object", properties: { a: { type: "string", anyOf: [{ type: "string" }] } } })
    ).toEqual(["root.properties.a.anyOf[0]: type is not allowed inside a junctor"])
    expect(
      structuralViolations({
        type: "object",
        properties: { metadata: { type: "object", properties: { labels: { type: "object" } } } }
      })
    ).toEqual(["metadata.properties.labels: only name and generateName"])
    expect(structuralViolations({ type: "object", properties: { a: { "x-kubernetes-int-or-string": true } } })).toEqual(
      []
    )
    expect(structuralViolations({ properties: {} })).toContain("root: type must be object")
  })
})

describe.each([
  ["SecretProviderClass", spc],
  ["SecretProviderClassPodStatus", spcps]
] as const)("%s CRD", (kind, spec) => {
  it("is namespaced in group secrets-store.csi.x-k8s.io with v1 stored and v1alpha1 served but deprecated", () => {
    expect(spec.group).toBe("secrets-store.csi.x-k8s.io")
    expect(spec.scope).toBe("Namespaced")
    expect(spec.names.kind).toBe(kind)
    expect(spec.versions.map((v) => [v.name, v.served, v.storage, v.deprecated ?? false])).toEqual([
      ["v1", true, true, false],
      ["v1alpha1", true, false, true]
    ])
    expect(spec.versions[1]!.deprecationWarning).toBe(
      "secrets-store.csi.x-k8s.io/v1alpha1 is deprecated. Use secrets-store.csi.x-k8s.io/v1 instead."
    )
  })

  it("has no status subresource (status is written with the object, like upstream)", () => {
    for (const version of spec.versions) expect(version.subresources).toBeUndefined()
  })

  it("has structural schemas", () => {
    for (const version of spec.versions) expect(structuralViolations(version.schema.openAPIV3Schema)).toEqual([])
  })
})

describe("the CRD schemas and the driver's Schema", () => {
  it("SecretProviderClass: same spec fields in both versions, status.byPod only in v1alpha1", () => {
    for (const version of spc.versions) {
      const root = version.schema.openAPIV3Schema
      expect(keysAt(root, "spec")).toEqual(sorted(SecretProviderClassSpec.fields))
      expect(keysAt(root, "spec", "secretObjects", "[]")).toEqual(sorted(SecretObject.fields))
      expect(keysAt(root, "spec", "secretObjects", "[]", "data", "[]")).toEqual(sorted(SecretObjectData.fields))
      expect(at(root, "spec", "parameters")).toEqual(
        expect.objectContaining({ additionalProperties: { type: "string" } })
      )
    }
    expect(keysAt(spc.versions[0]!.schema.openAPIV3Schema, "status")).toEqual([])
    expect(keysAt(spc.versions[1]!.schema.openAPIV3Schema, "status", "byPod", "[]")).toEqual(["id", "namespace"])
  })

  it("SecretProviderClassPodStatus: status only, the fields the driver writes", () => {
    for (const version of spcps.versions) {
      const root = version.schema.openAPIV3Schema
      expect(keysAt(root)).toEqual(["apiVersion", "kind", "metadata", "status"])
      expect(keysAt(root, "status")).toEqual(astFields(SecretProviderClassPodStatus.ast, "status"))
      expect(keysAt(root, "status", "objects", "[]")).toEqual(sorted(PodStatusObject.fields))
      expect(at(root, "status", "mounted").type).toBe("boolean")
    }
  })
})
