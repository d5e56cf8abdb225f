// Validates an object against a CRD version's openAPIV3Schema the way the API server does for the keywords our
// CRDs use: defaults first, then types, required, lengths, patterns, enums, item counts, list-map keys, unknown
// fields (kubectl's strict field validation) and the x-kubernetes-validations CEL rules, evaluated with cel-js.
import { evaluate } from "@marcbachmann/cel-js"

export interface SchemaNode {
  readonly type?: string
  readonly format?: string
  readonly properties?: Readonly<Record<string, SchemaNode>>
  readonly additionalProperties?: SchemaNode
  readonly items?: SchemaNode
  readonly required?: ReadonlyArray<string>
  readonly minLength?: number
  readonly maxLength?: number
  readonly pattern?: string
  readonly enum?: ReadonlyArray<unknown>
  readonly minItems?: number
  readonly maxItems?: number
  readonly minimum?: number
  readonly default?: unknown
  readonly "x-kubernetes-list-type"?: string
  readonly "x-kubernetes-list-map-keys"?: ReadonlyArray<string>
  readonly "x-kubernetes-validations"?: ReadonlyArray<{ readonly rule: string; readonly message?: string }>
}

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

const isRecord = (u: unknown): u is Record<string, Json> => typeof u === "object" && u !== null && !Array.isArray(u)

/** JSON as CEL sees it: integers are CEL ints (BigInt in cel-js), the rest maps one to one. */
export const toCel = (value: unknown): unknown => {
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value)
  if (Array.isArray(value)) return value.map(toCel)
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCel(v)]))
  return value
}

/** A copy with every schema default filled in where the field is absent, as the API server does on decode. */
export const applyDefaults = (value: unknown, schema: SchemaNode): unknown => {
  const { items } = schema
  if (Array.isArray(value)) return items === undefined ? value : value.map((v) => applyDefaults(v, items))
  if (!isRecord(value)) return value
  const out: Record<string, unknown> = { ...value }
  for (const [name, sub] of Object.entries(schema.properties ?? {})) {
    if (!(name in out) && sub.default !== undefined) out[name] = structuredClone(sub.default)
    if (name in out) out[name] = applyDefaults(out[name], sub)
  }
  if (schema.additionalProperties !== undefined) {
    for (const [name, v] of Object.entries(value)) out[name] = applyDefaults(v, schema.additionalProperties)
  }
  return out
}

const typeOf = (value: unknown): string =>
  Array.isArray(value)
    ? "array"
    : value === null
      ? "null"
      : typeof value === "number"
        ? Number.isInteger(value)
          ? "integer"
          : "number"
        : typeof value

const typeFits = (expected: string, actual: string) =>
  expected === actual || (expected === "number" && actual === "integer")

const checkString = (value: string, schema: SchemaNode, path: string, out: Array<string>) => {
  const length = [...value].length
  if (schema.minLength !== undefined && length < schema.minLength) {
    out.push(`${path}: Invalid value: should be at least ${schema.minLength} chars long`)
  }
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    out.push(`${path}: Too long: may not be more than ${schema.maxLength} bytes`)
  }
  if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) {
    out.push(`${path}: Invalid value: should match '${schema.pattern}'`)
  }
  if (schema.format === "date-time" && Number.isNaN(Date.parse(value))) {
    out.push(`${path}: Invalid value: should be a date-time`)
  }
}

const checkArray = (value: ReadonlyArray<unknown>, schema: SchemaNode, path: string, out: Array<string>) => {
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    out.push(`${path}: Invalid value: should have at least ${schema.minItems} items`)
  }
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    out.push(`${path}: Too many: ${value.length}: must have at most ${schema.maxItems} items`)
  }
  const keys = schema["x-kubernetes-list-map-keys"]
  if (schema["x-kubernetes-list-type"] === "map" && keys !== undefined) {
    const seen = new Set<string>()
    value.forEach((item, i) => {
      const key = JSON.stringify(keys.map((k) => (isRecord(item) ? item[k] : undefined)))
      if (seen.has(key)) out.push(`${path}[${i}]: Duplicate value: ${key}`)
      seen.add(key)
    })
  }
  if (schema.items !== undefined) value.forEach((item, i) => check(item, schema.items!, `${path}[${i}]`, out))
}

const field = (path: string, name: string) => (path === "" ? name : `${path}.${name}`)

const checkObject = (value: Record<string, Json>, schema: SchemaNode, path: string, out: Array<string>) => {
  for (const name of schema.required ?? []) if (!(name in value)) out.push(`${field(path, name)}: Required value`)
  for (const [name, v] of Object.entries(value)) {
    const sub = schema.properties?.[name] ?? schema.additionalProperties
    if (sub === undefined) out.push(`${field(path, name)}: unknown field`)
    // metadata is the ObjectMeta, which the API server validates itself.
    else if (!(path === "" && name === "metadata")) check(v, sub, field(path, name), out)
  }
}

const checkRules = (value: unknown, schema: SchemaNode, path: string, out: Array<string>) => {
  for (const { message, rule } of schema["x-kubernetes-validations"] ?? []) {
    let result: unknown
    try {
      result = evaluate(rule, { self: toCel(value) })
    } catch (error) {
      out.push(`${path}: Invalid value: rule error: ${String(error)}`)
      continue
    }
    if (result !== true) out.push(`${path}: Invalid value: "${typeOf(value)}": ${message ?? `failed rule: ${rule}`}`)
  }
}

const check = (value: unknown, schema: SchemaNode, path: string, out: Array<string>): void => {
  const actual = typeOf(value)
  if (schema.type !== undefined && !typeFits(schema.type, actual)) {
    out.push(`${path}: Invalid value: "${actual}": must be of type ${schema.type}`)
    return
  }
  if (schema.enum !== undefined && !schema.enum.includes(value)) {
    out.push(`${path}: Unsupported value: ${JSON.stringify(value)}`)
  }
  if (schema.minimum !== undefined && typeof value === "number" && value < schema.minimum) {
    out.push(`${path}: Invalid value: should be greater than or equal to ${schema.minimum}`)
  }
  if (typeof value === "string") checkString(value, schema, path, out)
  else if (Array.isArray(value)) checkArray(value, schema, path, out)
  else if (isRecord(value)) checkObject(value, schema, path, out)
  checkRules(value, schema, path, out)
}

/** The errors the API server would give for `object` (after defaulting), as "path: reason" lines; [] = valid. */
export const crdErrors = (object: unknown, schema: SchemaNode): ReadonlyArray<string> => {
  const out: Array<string> = []
  check(applyDefaults(object, schema), schema, "", out)
  return out
}
