// SecretProviderClasses as people keep them on disk: YAML (multi-document) or JSON files, each document
// remembered with the file line it starts on, decoded with the driver's own Schema. Used by the CLI and by
// the driver's standalone mode, so both read exactly what `kubectl apply` would have stored.
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import * as Yaml from "effect/encoding/Yaml"
import * as Schema from "effect/Schema"
import { decodeSecretProviderClass, type SecretProviderClass } from "../domain/SecretProviderClass.js"

export class ClassFileError extends Schema.TaggedError<ClassFileError>()("ClassFileError", {
  reason: Schema.Literal("InvalidSecretProviderClass"),
  /** `file:line: what is wrong`, one line. */
  message: Schema.String
}) {}

/** One YAML document of a file: its text and the 1-based file line of its first content line. */
export interface DocumentText {
  readonly file: string
  readonly line: number
  readonly text: string
}

export interface ParsedDocument extends DocumentText {
  readonly value: unknown
}

const isSeparator = (line: string) => /^---(\s.*)?$/.test(line)
const isContent = (line: string) => line.trim() !== "" && !line.trimStart().startsWith("#")

/** Splits a YAML stream on `---` lines; documents with nothing but comments are dropped. */
export const splitDocuments = (file: string, text: string): ReadonlyArray<DocumentText> => {
  const lines = text.split(/\r?\n/)
  const documents: Array<DocumentText> = []
  let start = 0
  const flush = (end: number) => {
    const body = lines.slice(start, end)
    const first = body.findIndex(isContent)
    if (first >= 0) documents.push({ file, line: start + first + 1, text: body.slice(first).join("\n") })
  }
  lines.forEach((line, index) => {
    if (!isSeparator(line) && !/^\.\.\.\s*$/.test(line)) return
    flush(index)
    start = index + 1
  })
  flush(lines.length)
  return documents
}

const oneLine = (text: string) => text.replace(/\s+/g, " ").trim()

const problemAt = (file: string, line: number, message: string) =>
  new ClassFileError({ reason: "InvalidSecretProviderClass", message: `${file}:${line}: ${message}` })

/** JSON first when it looks like JSON (exact), YAML otherwise; parse errors point at the file line. */
export const parseDocument = (document: DocumentText): Effect.Effect<ParsedDocument, ClassFileError> =>
  Effect.try({
    try: () => ({
      ...document,
      value: /^\s*[[{]/.test(document.text) ? parseJsonOrYaml(document.text) : Yaml.parse(document.text)
    }),
    catch: (cause) => {
      const message = cause instanceof Error ? cause.message : String(cause)
      const inner = /line (\d+)/i.exec(message)
      const line = inner === null ? document.line : document.line + Number(inner[1]) - 1
      return problemAt(document.file, line, `not valid YAML: ${oneLine(message)}`)
    }
  })

const parseJsonOrYaml = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return Yaml.parse(text)
  }
}

const kindOf = (value: unknown) =>
  typeof value === "object" && value !== null && "kind" in value ? (value as { kind: unknown }).kind : undefined

export const isClassDocument = (document: ParsedDocument) => kindOf(document.value) === "SecretProviderClass"

// `kubectl apply` without a namespace stores the object in "default"; the Schema needs it spelled out.
const withDefaultNamespace = (value: unknown): unknown => {
  if (typeof value !== "object" || value === null) return value
  const metadata = (value as { metadata?: unknown }).metadata
  if (typeof metadata !== "object" || metadata === null || "namespace" in metadata) return value
  return { ...value, metadata: { ...metadata, namespace: "default" } }
}

/** The driver's Schema, once; a failure names the file and the document's first line. */
export const decodeClassDocument = (document: ParsedDocument): Effect.Effect<SecretProviderClass, ClassFileError> =>
  decodeSecretProviderClass(withDefaultNamespace(document.value)).pipe(
    Effect.mapError((error) =>
      problemAt(
        document.file,
        document.line,
        `not a SecretProviderClass the driver can read: ${oneLine(error.message)}`
      )
    )
  )

export const readText = (file: string): Effect.Effect<string, ClassFileError> =>
  Effect.tryPromise({
    try: () => fs.readFile(file, "utf8"),
    catch: (cause) => problemAt(file, 1, `cannot read the file (${(cause as { code?: string }).code ?? String(cause)})`)
  })

/** Every document of a file, parsed; the first unparseable one fails the file. */
export const readDocuments = (file: string): Effect.Effect<ReadonlyArray<ParsedDocument>, ClassFileError> =>
  readText(file).pipe(Effect.flatMap((text) => Effect.forEach(splitDocuments(file, text), parseDocument)))

/** The one SecretProviderClass of a file (other kinds, e.g. a Pod beside it, are ignored). */
export const readClassFile = (file: string): Effect.Effect<SecretProviderClass, ClassFileError> =>
  Effect.gen(function* () {
    const classes = (yield* readDocuments(file)).filter(isClassDocument)
    const [first, ...rest] = classes
    if (first === undefined) return yield* problemAt(file, 1, "no document of kind SecretProviderClass")
    if (rest.length > 0) {
      return yield* problemAt(
        file,
        rest[0]!.line,
        `${classes.length} SecretProviderClasses in one file; this command takes one`
      )
    }
    return yield* decodeClassDocument(first)
  })

const classFileExtension = /\.(ya?ml|json)$/i

/** The YAML/JSON files under `dir`, recursively, sorted; hidden entries skipped. */
export const listClassFiles = (dir: string): Effect.Effect<ReadonlyArray<string>, ClassFileError> =>
  Effect.tryPromise({
    try: () => fs.readdir(dir, { recursive: true, withFileTypes: true }),
    catch: (cause) =>
      problemAt(dir, 1, `cannot list the directory (${(cause as { code?: string }).code ?? String(cause)})`)
  }).pipe(
    Effect.map((entries) =>
      entries
        .filter((entry) => entry.isFile() && classFileExtension.test(entry.name))
        .map((entry) => nodePath.join(entry.parentPath, entry.name))
        .filter(
          (file) =>
            !nodePath
              .relative(dir, file)
              .split(nodePath.sep)
              .some((part) => part.startsWith("."))
        )
        .sort()
    )
  )
