// Runs a ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) against an admission request the way the API
// server does: match constraints, then match conditions, variables and validations as CEL (cel-js), with
// failurePolicy Fail turning an evaluation error into a denial.
import { evaluate } from "@marcbachmann/cel-js"
import type { KubeObject } from "./render.js"
import { toCel } from "./crdValidate.js"

export interface AdmissionRequest {
  readonly operation: "CREATE" | "UPDATE" | "DELETE" | "CONNECT"
  readonly username: string
  /** "secrets", or "serviceaccounts/token" for a subresource. */
  readonly resource: string
  readonly namespace: string
  readonly name: string
  readonly object: unknown
  readonly oldObject: unknown
}

export type Verdict =
  | { readonly applies: false }
  | { readonly applies: true; readonly allowed: boolean; readonly denials: ReadonlyArray<string> }

interface Expression {
  readonly name?: string
  readonly expression: string
  readonly message?: string
  readonly messageExpression?: string
  readonly reason?: string
}
interface PolicySpec {
  readonly failurePolicy?: string
  readonly matchConstraints: {
    readonly resourceRules: ReadonlyArray<{
      readonly apiGroups: ReadonlyArray<string>
      readonly operations: ReadonlyArray<string>
      readonly resources: ReadonlyArray<string>
    }>
  }
  readonly matchConditions?: ReadonlyArray<Expression>
  readonly variables?: ReadonlyArray<Expression>
  readonly validations: ReadonlyArray<Expression>
}

const specOf = (policy: KubeObject) => policy["spec"] as PolicySpec

/** The request as CEL's `request` variable (the fields the policies read). */
const requestValue = (request: AdmissionRequest) => {
  const [resource, subResource] = request.resource.split("/")
  return {
    operation: request.operation,
    userInfo: { username: request.username },
    resource: { group: "", version: "v1", resource },
    subResource: subResource ?? "",
    namespace: request.namespace,
    name: request.name
  }
}

const matchesConstraints = (spec: PolicySpec, request: AdmissionRequest) =>
  spec.matchConstraints.resourceRules.some(
    (rule) =>
      rule.apiGroups.includes("") &&
      rule.operations.includes(request.operation) &&
      rule.resources.includes(request.resource)
  )

/** Evaluates `expression` in the policy's context; an evaluation error comes back as a value, not thrown. */
type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string }

const run = (expression: string, context: Record<string, unknown>): Outcome => {
  try {
    return { ok: true, value: evaluate(expression, context) }
  } catch (error) {
    return { ok: false, error: String(error) }
  }
}

export const admit = (policy: KubeObject, request: AdmissionRequest): Verdict => {
  const spec = specOf(policy)
  if (spec.failurePolicy !== "Fail") throw new Error(`${policy.metadata.name}: only failurePolicy Fail is modelled`)
  if (!matchesConstraints(spec, request)) return { applies: false }
  const variables: Record<string, unknown> = {}
  const context = {
    object: toCel(request.object),
    oldObject: toCel(request.oldObject),
    request: requestValue(request),
    params: null,
    variables
  }
  const denials: Array<string> = []
  for (const condition of spec.matchConditions ?? []) {
    const result = run(condition.expression, context)
    if (!result.ok) {
      return { applies: true, allowed: false, denials: [`matchCondition ${condition.name}: ${result.error}`] }
    }
    if (result.value !== true) return { applies: false }
  }
  for (const variable of spec.variables ?? []) {
    const result = run(variable.expression, context)
    if (!result.ok) return { applies: true, allowed: false, denials: [`variable ${variable.name}: ${result.error}`] }
    variables[variable.name!] = result.value
  }
  for (const validation of spec.validations) {
    const result = run(validation.expression, context)
    if (!result.ok) denials.push(`expression error: ${result.error}`)
    else if (result.value !== true) {
      const expression = validation.messageExpression
      const message = expression === undefined ? undefined : run(expression, context)
      if (message !== undefined && !message.ok) {
        throw new Error(`${policy.metadata.name}: messageExpression: ${message.error}`)
      }
      denials.push(String(message?.value ?? validation.message))
    }
  }
  return { applies: true, allowed: denials.length === 0, denials }
}

/** The verdict of every policy that applies: allowed only if each one allows. */
export const admitAll = (policies: ReadonlyArray<KubeObject>, request: AdmissionRequest) => {
  const verdicts = policies.map((policy) => [policy.metadata.name, admit(policy, request)] as const)
  const applied = verdicts.filter(([, v]) => v.applies)
  const denials = applied.flatMap(([name, v]) => (v.applies ? v.denials.map((d) => `${name}: ${d}`) : []))
  return { applied: applied.map(([name]) => name), allowed: denials.length === 0, denials }
}
