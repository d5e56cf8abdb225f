// Unknown-field check: kubernetes-models' validators accept any extra key (a typo such as `mountPropogation`
// passes them, and the API server would drop it silently), so this walks an object beside the field lists of
// the models' TypeScript declarations, which are generated from the same OpenAPI schema.
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { repoRoot } from "./render.js"

interface Shape {
  /** field -> the interface file its value follows (as an object or array items), or null for a leaf or map. */
  readonly fields: ReadonlyMap<string, { readonly file: string | null }>
}

const shapes = new Map<string, Shape>()

const resolveImport = (from: string, specifier: string): string => {
  const path = specifier.startsWith(".")
    ? join(dirname(from), specifier.replace(/\.js$/, ".d.ts"))
    : join(repoRoot, "node_modules", `${specifier}.d.ts`)
  if (!existsSync(path)) throw new Error(`cannot resolve ${specifier} from ${from}`)
  return path
}

const shapeOf = (file: string): Shape => {
  const cached = shapes.get(file)
  if (cached !== undefined) return cached
  const text = readFileSync(file, "utf8")
  const imports = new Map<string, string>()
  for (const m of text.matchAll(/^import \{ (I\w+) \} from "([^"]+)";$/gm)) imports.set(m[1]!, m[2]!)
  const body = /^export interface I\w+(?: extends [\w, ]+)? \{\n([\s\S]*?)\n\}/m.exec(text)?.[1]
  if (body === undefined) throw new Error(`no interface in ${file}`)
  const fields = new Map<string, { file: string | null }>()
  // Members sit at four spaces; deeper lines belong to inline map types, whose keys are free.
  for (const m of body.matchAll(/^ {4}"([^"]+)"\??: (.*?);?$/gm)) {
    const reference = /^(?:Array<)?(I\w+)>?$/.exec(m[2]!)?.[1]
    const specifier = reference === undefined ? undefined : imports.get(reference)
    fields.set(m[1]!, { file: specifier === undefined ? null : resolveImport(file, specifier) })
  }
  const shape = { fields }
  shapes.set(file, shape)
  return shape
}

const walk = (value: unknown, file: string, path: string, out: Array<string>): void => {
  if (Array.isArray(value)) {
    value.forEach((item, i) => walk(item, file, `${path}[${i}]`, out))
    return
  }
  if (typeof value !== "object" || value === null) return
  const shape = shapeOf(file)
  for (const [key, child] of Object.entries(value)) {
    const field = shape.fields.get(key)
    if (field === undefined) out.push(`${path}.${key}`)
    else if (field.file !== null) walk(child, field.file, `${path}.${key}`, out)
  }
}

/**
 * The unknown fields of `object`, as paths, checked against the model at e.g.
 * `kubernetes-models/apps/v1/DaemonSet`.
 */
export const unknownFields = (object: unknown, model: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  walk(object, join(repoRoot, "node_modules", `${model}.d.ts`), "", out)
  return out
}

const modelPaths: Readonly<Record<string, string>> = {
  "admissionregistration.k8s.io/v1": "admissionregistration.k8s.io/v1",
  "apiextensions.k8s.io/v1": "apiextensions.k8s.io/v1",
  "apps/v1": "apps/v1",
  "rbac.authorization.k8s.io/v1": "rbac.authorization.k8s.io/v1",
  "storage.k8s.io/v1": "storage.k8s.io/v1",
  v1: "v1"
}

/** The model path of a rendered object's kind, e.g. apps/v1 DaemonSet -> kubernetes-models/apps/v1/DaemonSet. */
export const modelOf = (apiVersion: string, kind: string): string => {
  const group = modelPaths[apiVersion]
  if (group === undefined) throw new Error(`no model for ${apiVersion}`)
  return `kubernetes-models/${group}/${kind}`
}
