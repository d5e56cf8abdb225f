// Validation of the files a provider returns (docs/upstream.md#file-path-rules, docs/contract.md#files-on-disk): the
// only way to obtain a ValidatedPayload, which is what the AtomicWriter accepts. Validation is total: one bad file
// rejects the whole payload, so nothing is written. Messages name paths, never contents.
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type { ProviderFile } from "../domain/ProviderFile.js"

declare const ValidatedTypeId: unique symbol

/** A payload that passed every rule; only `validatePayload` builds one. */
export interface ValidatedPayload {
  readonly [ValidatedTypeId]: true
  /** The files, in the order the provider returned them. */
  readonly files: ReadonlyArray<ProviderFile>
  /** Distinct first path elements: the user-visible top-level names. */
  readonly topLevel: ReadonlyArray<string>
  /** Every file path, for lookups. */
  readonly paths: ReadonlySet<string>
  /** Every directory the files live in, each once, parents before children. */
  readonly dirs: ReadonlyArray<string>
}

export class PayloadError extends Schema.TaggedError<PayloadError>()("PayloadError", {
  reason: Schema.Literal("InvalidProviderResponse"),
  message: Schema.String,
  path: Schema.String
}) {}

const MAX_PATH_BYTES = 4096
const MAX_ELEMENT_BYTES = 255
const MAX_MODE = 0o777
/**
 * Distinct directories one payload may need. Paths alone would allow millions (4 MiB of `bN/a/a/…/a` paths), each
 * an inode on the tmpfs and a string in the driver; no real provider comes near this.
 */
export const MAX_DIRECTORIES = 10_000
const QUOTE_LIMIT = 128

/** JSON-quotes a path so odd bytes are visible; very long paths are cut so messages stay readable. */
export const quotePath = (path: string): string =>
  path.length <= QUOTE_LIMIT
    ? JSON.stringify(path)
    : `${JSON.stringify(path.slice(0, QUOTE_LIMIT))}…(${Buffer.byteLength(path, "utf8")} bytes)`

const byteLength = (s: string): number => Buffer.byteLength(s, "utf8")

/** Why `path` breaks a rule, or undefined. Lengths are in UTF-8 bytes, like Go's `len`. */
const pathProblem = (path: string): string | undefined => {
  if (path.length === 0) return "path is empty"
  if (path.includes("\0")) return "path contains a NUL byte"
  if (path.startsWith("/")) return "path is absolute"
  if (byteLength(path) > MAX_PATH_BYTES) return `path is longer than ${MAX_PATH_BYTES} bytes`
  const elements = path.split("/")
  if (elements.includes("..")) return "path has a '..' element"
  if (elements.some((e) => byteLength(e) > MAX_ELEMENT_BYTES)) {
    return `path has an element longer than ${MAX_ELEMENT_BYTES} bytes`
  }
  if (elements[0]!.startsWith("..")) return "path starts with '..'"
  // Go's filepath.Clean(p) == p for a relative path without '..': no empty and no '.' element.
  if (elements.some((e) => e === "" || e === ".")) return "path is not in clean form"
  return undefined
}

const modeProblem = (mode: number): string | undefined =>
  Number.isInteger(mode) && mode >= 0 && mode <= MAX_MODE
    ? undefined
    : `mode ${String(mode)} is not a permission in 0..0o777`

const invalid = (path: string, why: string): PayloadError =>
  new PayloadError({
    reason: "InvalidProviderResponse",
    path,
    message: `invalid file ${quotePath(path)} in provider response: ${why}`
  })

/**
 * Adds the directories of `path` not seen yet, parents first. It walks up from the deepest one and stops at the first
 * known directory (whose ancestors are known too), so the cost is linear in the path, not in its depth times length.
 */
const addDirs = (path: string, dirs: Set<string>, fresh: Array<string>): void => {
  fresh.length = 0
  for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
    const dir = path.slice(0, i)
    if (dirs.has(dir)) break
    fresh.push(dir)
  }
  for (let j = fresh.length - 1; j >= 0; j--) dirs.add(fresh[j]!)
}

/** Upstream's path rules plus range-checked modes, duplicates, file/directory clashes and a directory cap. */
export const validatePayloadResult = (
  files: ReadonlyArray<ProviderFile>
): Result.Result<ValidatedPayload, PayloadError> => {
  const seen = new Set<string>()
  for (const file of files) {
    const why = pathProblem(file.path) ?? modeProblem(file.mode)
    if (why !== undefined) return Result.fail(invalid(file.path, why))
    if (seen.has(file.path)) return Result.fail(invalid(file.path, "duplicate path"))
    seen.add(file.path)
  }
  const topLevel = new Set<string>()
  const dirs = new Set<string>()
  const fresh: Array<string> = []
  for (const file of files) {
    addDirs(file.path, dirs, fresh)
    for (const dir of fresh) {
      if (seen.has(dir)) return Result.fail(invalid(file.path, `${quotePath(dir)} is both a file and a directory`))
    }
    if (dirs.size > MAX_DIRECTORIES) {
      return Result.fail(invalid(file.path, `the files need more than ${MAX_DIRECTORIES} directories`))
    }
    const slash = file.path.indexOf("/")
    topLevel.add(slash === -1 ? file.path : file.path.slice(0, slash))
  }
  return Result.succeed({ files, topLevel: [...topLevel], paths: seen, dirs: [...dirs] } as unknown as ValidatedPayload)
}

export const validatePayload = (files: ReadonlyArray<ProviderFile>): Effect.Effect<ValidatedPayload, PayloadError> =>
  Effect.fromResult(validatePayloadResult(files))

/** The unit a tmpfs charges file contents in: a page (4 KiB on x86-64 and most arm64 kernels). */
export const TMPFS_PAGE_BYTES = 4096

/**
 * What the payload's files take of a tmpfs `size=` limit: each file's bytes rounded up to whole pages (an empty file
 * none). Directories and the layout's short links take inodes, not pages, so they cost nothing here.
 */
export const tmpfsFootprint = (payload: ValidatedPayload): number => {
  let total = 0
  for (const file of payload.files) total += Math.ceil(file.contents.byteLength / TMPFS_PAGE_BYTES) * TMPFS_PAGE_BYTES
  return total
}

/**
 * Refuses a payload that cannot fit a tmpfs of `limitBytes` (0: no limit), before anything is written. `what`
 * names the volume and its SecretProviderClass in the message.
 */
export const checkFits = (
  payload: ValidatedPayload,
  limitBytes: number,
  what: string
): Effect.Effect<void, PayloadError> => {
  const needed = tmpfsFootprint(payload)
  if (limitBytes === 0 || needed <= limitBytes) return Effect.void
  return Effect.fail(
    new PayloadError({
      reason: "InvalidProviderResponse",
      path: ".",
      message:
        `provider response for ${what} does not fit the volume: its ${payload.files.length} files take ` +
        `${needed} bytes on the tmpfs (each rounded up to ${TMPFS_PAGE_BYTES}-byte pages), over ` +
        `--tmpfs-size-limit=${limitBytes}`
    })
  )
}

/** Byte equality of two contents, without copying them. */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
