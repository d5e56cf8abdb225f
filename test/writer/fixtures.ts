// Shared pieces of the writer tests: scoped temp dirs (and a tiny tmpfs), payload builders, and a full
// listing of a directory tree (types, modes, link values, bytes) to prove "nothing else changed".
import { execFileSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type { ProviderFile } from "../../src/domain/ProviderFile.js"
import { type ValidatedPayload, validatePayloadResult } from "../../src/writer/Payload.js"

/** A fresh directory under the system temp dir, removed with the scope. */
export const tempDir = (prefix = "writer-test-"): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), prefix)))),
    (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
  )

/** A tmpfs of `size` bytes mounted on a fresh temp dir (we run as root), unmounted with the scope. */
export const tinyTmpfs = (size: number): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function* () {
    const dir = yield* tempDir("writer-tmpfs-")
    return yield* Effect.acquireRelease(
      Effect.sync(() => {
        execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir])
        return dir
      }),
      () => Effect.sync(() => execFileSync("umount", [dir]))
    )
  })

const encoder = new TextEncoder()

/** `{ path: text }` or `{ path: [text, mode] }`; the default mode is 0644. */
export type Spec = Readonly<Record<string, string | readonly [string, number]>>

export const files = (spec: Spec): ReadonlyArray<ProviderFile> =>
  Object.entries(spec).map(([p, v]) =>
    typeof v === "string"
      ? { path: p, mode: 0o644, contents: encoder.encode(v) }
      : { path: p, mode: v[1], contents: encoder.encode(v[0]) }
  )

/** A payload the test knows is valid; a rejection is a bug in the test. */
export const payload = (spec: Spec): ValidatedPayload => {
  const result = validatePayloadResult(files(spec))
  if (Result.isFailure(result)) throw new Error(`test payload rejected: ${result.failure.message}`)
  return result.success
}

export interface Entry {
  readonly kind: "file" | "dir" | "link" | "other"
  readonly mode: number
  readonly ino: number
  readonly link?: string
  readonly text?: string
}

/** Every entry under `root` (not following links), keyed by relative path. */
export const listing = async (root: string): Promise<Record<string, Entry>> => {
  const out: Record<string, Entry> = {}
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await fs.readdir(dir)).sort()) {
      const abs = path.join(dir, name)
      const rel = path.relative(root, abs)
      const st = await fs.lstat(abs)
      const base = { mode: st.mode & 0o7777, ino: st.ino }
      if (st.isSymbolicLink()) out[rel] = { kind: "link", ...base, link: await fs.readlink(abs) }
      else if (st.isFile()) out[rel] = { kind: "file", ...base, text: await fs.readFile(abs, "utf8") }
      else if (st.isDirectory()) {
        out[rel] = { kind: "dir", ...base }
        await walk(abs)
      } else out[rel] = { kind: "other", ...base }
    }
  }
  await walk(root)
  return out
}

export const modeOf = async (p: string): Promise<number> => (await fs.lstat(p)).mode & 0o7777

/** The data dir `..data` points to. */
export const dataDirOf = (target: string): Promise<string> => fs.readlink(path.join(target, "..data"))

/** The target's visible files as `{ path: [text, mode] }`, read through the top-level links. */
export const visible = async (target: string): Promise<Record<string, readonly [string, number]>> => {
  const out: Record<string, readonly [string, number]> = {}
  const walk = async (abs: string, rel: string): Promise<void> => {
    const st = await fs.stat(abs)
    if (st.isDirectory()) {
      for (const name of (await fs.readdir(abs)).sort()) await walk(path.join(abs, name), `${rel}/${name}`)
    } else out[rel] = [await fs.readFile(abs, "utf8"), st.mode & 0o7777]
  }
  for (const name of (await fs.readdir(target)).sort()) {
    if (!name.startsWith("..")) await walk(path.join(target, name), name)
  }
  return out
}

/** The contents of every test file; it must never appear in an error message. */
export const SECRET = "s3cr3t-value-never-in-messages"
export const providerFile = (path: string, mode = 0o644): ProviderFile => ({
  path,
  mode,
  contents: new TextEncoder().encode(SECRET)
})

// 17 elements of 240 bytes and 16 slashes: exactly 4096 bytes, every element legal.
export const path4096 = Array.from({ length: 17 }, () => "p".repeat(240)).join("/")

/** Payloads every one of which must be rejected as a whole, with the reason text expected in the message. */
export const hostile: ReadonlyArray<readonly [string, ReadonlyArray<ProviderFile>, string]> = [
  ["parent escape", [providerFile("../x")], "'..' element"],
  ["bare ..", [providerFile("..")], "'..' element"],
  ["absolute", [providerFile("/abs")], "absolute"],
  ["inner ..", [providerFile("a/../../x")], "'..' element"],
  ["trailing ..", [providerFile("a/..")], "'..' element"],
  ["..data prefix", [providerFile("..data/x")], "starts with '..'"],
  ["..x", [providerFile("..x")], "starts with '..'"],
  ["./a", [providerFile("./a")], "clean form"],
  ["a//b", [providerFile("a//b")], "clean form"],
  ["a/", [providerFile("a/")], "clean form"],
  ["a/./b", [providerFile("a/./b")], "clean form"],
  ["dot", [providerFile(".")], "clean form"],
  ["empty", [providerFile("")], "empty"],
  ["NUL byte", [providerFile("a\u0000b")], "NUL"],
  ["256-byte element", [providerFile("n".repeat(256))], "longer than 255 bytes"],
  ["256-byte multibyte element", [providerFile("é".repeat(128))], "longer than 255 bytes"],
  ["4097-byte path", [providerFile(`${path4096}q`)], "longer than 4096 bytes"],
  ["duplicate", [providerFile("a"), providerFile("b"), providerFile("a")], "duplicate"],
  ["file and directory", [providerFile("a"), providerFile("a/b")], "both a file and a directory"],
  ["directory then file", [providerFile("d/e/f"), providerFile("d/e")], "both a file and a directory"],
  ["setuid", [providerFile("a", 0o4755)], "mode"],
  ["negative mode", [providerFile("a", -1)], "mode"],
  ["sticky", [providerFile("a", 0o1000)], "mode"],
  ["fractional mode", [providerFile("a", 1.5)], "mode"],
  ["NaN mode", [providerFile("a", Number.NaN)], "mode"]
]
