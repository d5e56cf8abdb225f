// The reference provider's secret store: a YAML or JSON file mapping object names to contents,
// mode, version and encoding. Re-read whenever its mtime or size changes (one stat per call), so
// editing the file rotates secrets without a restart.
import * as fs from "node:fs/promises"
import * as Effect from "effect/Effect"
import * as Yaml from "effect/encoding/Yaml"
import * as Schema from "effect/Schema"
import { ReferenceProviderError } from "./ReferenceProviderError.js"

const ModeInput = Schema.Union([Schema.Number, Schema.String])

const StoreEntry = Schema.Struct({
  contents: Schema.String,
  mode: Schema.optional(ModeInput),
  version: Schema.Union([Schema.String, Schema.Number]),
  encoding: Schema.optional(Schema.Literals(["utf8", "base64"]))
})

const StoreFile = Schema.Record(Schema.String, StoreEntry)

/** One stored object, ready to be served. */
export interface StoredObject {
  readonly contents: Uint8Array
  readonly mode: number | undefined
  readonly version: string
}

export type StoreContents = ReadonlyMap<string, StoredObject>

/**
 * A mode as people write it: a number is decimal (420), a string with a leading 0 or 0o is octal
 * ("0644"), any other digit string decimal. Undefined when it is not a permission in 0..0o777.
 */
export const parseMode = (input: number | string): number | undefined => {
  const mode =
    typeof input === "number"
      ? input
      : /^0o?[0-7]+$/i.test(input.trim())
        ? Number.parseInt(input.trim().replace(/^0o/i, ""), 8)
        : /^[0-9]+$/.test(input.trim())
          ? Number.parseInt(input.trim(), 10)
          : Number.NaN
  return Number.isInteger(mode) && mode >= 0 && mode <= 0o777 ? mode : undefined
}

const storeInvalid = (path: string, why: string) =>
  new ReferenceProviderError({ code: "FAILED_PRECONDITION", message: `store file ${path} is invalid: ${why}` })

const toStoredObject = (path: string, name: string, entry: typeof StoreEntry.Type) => {
  const mode = entry.mode === undefined ? undefined : parseMode(entry.mode)
  if (entry.mode !== undefined && mode === undefined) {
    return Effect.fail(storeInvalid(path, `object ${JSON.stringify(name)} has an invalid mode`))
  }
  const contents =
    entry.encoding === "base64"
      ? new Uint8Array(Buffer.from(entry.contents, "base64"))
      : new Uint8Array(Buffer.from(entry.contents, "utf8"))
  return Effect.succeed<StoredObject>({ contents, mode, version: String(entry.version) })
}

/** Parses a store file's text (YAML, of which JSON is a subset). */
export const parseStore = (path: string, text: string): Effect.Effect<StoreContents, ReferenceProviderError> =>
  Effect.gen(function* () {
    const raw = yield* Effect.try({ try: () => Yaml.parse(text), catch: (cause) => storeInvalid(path, String(cause)) })
    const decoded = yield* Schema.decodeUnknownEffect(StoreFile)(raw ?? {}).pipe(
      Effect.mapError((error) => storeInvalid(path, error.message))
    )
    const objects = new Map<string, StoredObject>()
    for (const [name, entry] of Object.entries(decoded)) objects.set(name, yield* toStoredObject(path, name, entry))
    return objects
  })

export interface ReferenceStore {
  /** The store as it is on disk now. */
  readonly load: Effect.Effect<StoreContents, ReferenceProviderError>
}

export const makeReferenceStore = (path: string): ReferenceStore => {
  let cached: { readonly key: string; readonly contents: StoreContents } | undefined
  const unreadable = (cause: unknown) =>
    new ReferenceProviderError({
      code: "FAILED_PRECONDITION",
      message: `cannot read store file ${path}: ${String(cause)}`
    })
  const load = Effect.gen(function* () {
    const stat = yield* Effect.tryPromise({ try: () => fs.stat(path, { bigint: true }), catch: unreadable })
    const key = `${stat.ino}:${stat.mtimeNs}:${stat.ctimeNs}:${stat.size}`
    if (cached !== undefined && cached.key === key) return cached.contents
    const text = yield* Effect.tryPromise({ try: () => fs.readFile(path, "utf8"), catch: unreadable })
    const contents = yield* parseStore(path, text)
    cached = { key, contents }
    return contents
  })
  return { load }
}
