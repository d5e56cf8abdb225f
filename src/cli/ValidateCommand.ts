// `secrets-store validate FILE...`: every SecretProviderClass document of every file through SpcLint's checks and
// then the driver's own Schema; one `file:line: message` per problem (exit 1) or one `ok` line per class.
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { group } from "../domain/SecretProviderClass.js"
import {
  decodeClassDocument,
  type DocumentText,
  parseDocument,
  type ParsedDocument,
  readText,
  splitDocuments
} from "../standalone/ClassFiles.js"
import { ProblemsReported } from "./ExitCode.js"
import { lintClass } from "./SpcLint.js"
import { lineOf } from "./YamlLines.js"

interface Finding {
  readonly kind: "ok" | "skipped" | "problem"
  readonly line: string
}

const ok = (line: string): Finding => ({ kind: "ok", line })
const skipped = (line: string): Finding => ({ kind: "skipped", line })
const bad = (line: string): Finding => ({ kind: "problem", line })

const field = (value: unknown, key: string) =>
  typeof value === "object" && value !== null && key in value ? (value as Record<string, unknown>)[key] : undefined

/** SPCs, near-misses (a misspelt kind, our group) and kind-less documents are checked; other kinds skipped. */
const meantAsClass = (value: unknown) => {
  const kind = field(value, "kind")
  return (
    kind === undefined ||
    String(kind).toLowerCase() === "secretproviderclass" ||
    String(field(value, "apiVersion") ?? "").startsWith(`${group}/`)
  )
}

const nameOf = (value: unknown) => {
  const metadata = field(value, "metadata")
  return `${String(field(metadata, "namespace") ?? "default")}/${String(field(metadata, "name") ?? "")}`
}

const checkDocument = (document: ParsedDocument): Effect.Effect<ReadonlyArray<Finding>> =>
  Effect.gen(function* () {
    const at = `${document.file}:${document.line}`
    if (!meantAsClass(document.value))
      return [skipped(`${at}: skipped ${String(field(document.value, "kind"))} ${nameOf(document.value)}`)]
    const problems = lintClass(document.value)
    if (problems.length > 0) {
      return problems
        .map((p) => ({ line: document.line + lineOf(document.text, p.path) - 1, message: p.message }))
        .sort((a, b) => a.line - b.line)
        .map((p) => bad(`${document.file}:${p.line}: ${p.message}`))
    }
    const decoded = yield* Effect.result(decodeClassDocument(document))
    if (decoded._tag === "Failure") return [bad(decoded.failure.message)]
    return [ok(`${at}: ok ${nameOf(document.value)} (provider ${String(decoded.success.spec.provider)})`)]
  })

const checkText = (document: DocumentText) =>
  parseDocument(document).pipe(
    Effect.flatMap(checkDocument),
    Effect.catch((error) => Effect.succeed([bad(error.message)]))
  )

const checkFile = (file: string): Effect.Effect<ReadonlyArray<Finding>> =>
  readText(file).pipe(
    Effect.flatMap((text) => Effect.forEach(splitDocuments(file, text), checkText)),
    Effect.map((perDocument) => {
      const findings = perDocument.flat()
      return findings.some((f) => f.kind !== "skipped")
        ? findings
        : [...findings, bad(`${file}:1: no SecretProviderClass in this file`)]
    }),
    Effect.catch((error) => Effect.succeed([bad(error.message)]))
  )

export const validateCommand = Command.make(
  "validate",
  {
    files: Argument.String("file").pipe(
      Argument.variadic({ min: 1 }),
      Argument.withDescription("SecretProviderClass files (YAML, multi-document, or JSON)")
    )
  },
  ({ files }) =>
    Effect.gen(function* () {
      const findings = (yield* Effect.forEach(files, checkFile)).flat()
      yield* Console.log(findings.map((f) => f.line).join("\n"))
      const problems = findings.filter((f) => f.kind === "problem").length
      if (problems > 0) return yield* new ProblemsReported({ count: problems })
    })
).pipe(Command.withDescription("Check SecretProviderClass files for what upstream only finds at mount or sync time"))
