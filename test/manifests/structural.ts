// The Kubernetes rules for a structural CRD schema (apiextensions.k8s.io/v1 "Specifying a structural schema"),
// written out so the tests can hold our CRDs to them: the API server rejects a v1 CRD that breaks them.
// Returns the violations as "path: rule" lines; an empty list means structural.

type Node = Readonly<Record<string, unknown>>

const junctors = ["allOf", "anyOf", "oneOf", "not"] as const
/** Not allowed inside a junctor (rule 3); the int-or-string pattern is the one exception. */
const forbiddenInJunctor = ["description", "type", "default", "additionalProperties", "nullable"] as const
/** JSON-Schema keywords apiextensions v1 refuses outright. */
const unsupported = [
  "$ref",
  "$schema",
  "definitions",
  "dependencies",
  "additionalItems",
  "patternProperties",
  "id"
] as const

const isNode = (u: unknown): u is Node => typeof u === "object" && u !== null && !Array.isArray(u)

const escapesType = (node: Node) =>
  node["x-kubernetes-int-or-string"] === true || node["x-kubernetes-preserve-unknown-fields"] === true

const junctorBranches = (node: Node): ReadonlyArray<readonly [string, Node]> =>
  junctors.flatMap((junctor) => {
    const value = node[junctor]
    if (value === undefined) return []
    const branches = Array.isArray(value) ? value : [value]
    return branches.filter(isNode).map((branch, i) => [`${junctor}[${i}]`, branch] as const)
  })

/** Rules 2 and 3 inside allOf/anyOf/oneOf/not: no types there, and only fields the outer schema declares. */
const checkJunctor = (branch: Node, outer: Node, path: string, out: Array<string>): void => {
  const intOrString = outer["x-kubernetes-int-or-string"] === true
  for (const key of forbiddenInJunctor) {
    if (key in branch && !(intOrString && key === "type")) out.push(`${path}: ${key} is not allowed inside a junctor`)
  }
  const outerProperties = isNode(outer["properties"]) ? outer["properties"] : {}
  if (isNode(branch["properties"])) {
    for (const [name, sub] of Object.entries(branch["properties"])) {
      if (!(name in outerProperties)) out.push(`${path}.properties.${name}: field not declared outside the junctor`)
      if (isNode(sub))
        for (const [where, inner] of junctorBranches(sub)) checkJunctor(inner, sub, `${path}.${where}`, out)
    }
  }
  if ("items" in branch && !("items" in outer)) out.push(`${path}.items: items not declared outside the junctor`)
}

const checkNode = (node: Node, path: string, out: Array<string>): void => {
  for (const key of unsupported) if (key in node) out.push(`${path}: ${key} is not supported`)
  const type = node["type"]
  if (!escapesType(node) && (typeof type !== "string" || type === "")) out.push(`${path}: type is missing`)
  if ("properties" in node && "additionalProperties" in node) {
    out.push(`${path}: properties and additionalProperties are mutually exclusive`)
  }
  if (node["uniqueItems"] === true) out.push(`${path}: uniqueItems cannot be true`)
  if (type === "array") {
    if (!isNode(node["items"])) out.push(`${path}: an array needs items as one schema`)
  } else if ("items" in node) {
    out.push(`${path}: items on a non-array`)
  }
  if (isNode(node["properties"])) {
    for (const [name, sub] of Object.entries(node["properties"])) {
      if (isNode(sub)) checkNode(sub, `${path}.properties.${name}`, out)
      else out.push(`${path}.properties.${name}: not a schema`)
    }
  }
  const additional = node["additionalProperties"]
  if (isNode(additional)) checkNode(additional, `${path}.additionalProperties`, out)
  if (isNode(node["items"])) checkNode(node["items"], `${path}.items`, out)
  for (const [where, branch] of junctorBranches(node)) checkJunctor(branch, node, `${path}.${where}`, out)
}

/** Rule 4: metadata at the root may only restrict name and generateName. */
const checkMetadata = (root: Node, out: Array<string>): void => {
  const metadata = isNode(root["properties"]) ? root["properties"]["metadata"] : undefined
  if (!isNode(metadata)) return
  if (metadata["type"] !== "object") out.push("metadata: type must be object")
  const fields = isNode(metadata["properties"]) ? Object.keys(metadata["properties"]) : []
  for (const field of fields) {
    if (field !== "name" && field !== "generateName")
      out.push(`metadata.properties.${field}: only name and generateName`)
  }
  for (const key of Object.keys(metadata)) {
    if (!["type", "description", "properties"].includes(key)) out.push(`metadata: ${key} is not allowed`)
  }
}

export const structuralViolations = (schema: unknown): ReadonlyArray<string> => {
  if (!isNode(schema)) return ["root: not a schema"]
  const out: Array<string> = []
  if (schema["type"] !== "object") out.push("root: type must be object")
  checkNode(schema, "root", out)
  checkMetadata(schema, out)
  return out
}
