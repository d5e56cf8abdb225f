// The shipped programs are one bundle each (scripts/bundle-programs.mjs): ASCII-only (V8 keeps a script's source in
// the heap, two bytes a character if one is not ASCII), importing only node: builtins, and with source maps that turn
// a stack trace back into src/ files when NODE_OPTIONS=--enable-source-maps.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { distMain, runProgram } from "../support/ChildProcess.js"

const programs = ["main.js", "cli/main.js", "reference-provider/main.js", "sync-controller/main.js"]
/** The bin entry imports its bundle: <bin>.js -> <bin>.bundle.js. */
const bundleOf = (program: string) => distMain(program).replace(/\.js$/, ".bundle.js")

const base = fs.mkdtempSync(path.join(os.tmpdir(), "bundles-"))
afterAll(() => fs.rmSync(base, { recursive: true, force: true }))

describe("the shipped bundles", () => {
  it.each(programs)("%s: the entry and its bundle are ASCII-only and import only node: builtins", (program) => {
    for (const file of [distMain(program), bundleOf(program)]) {
      const text = fs.readFileSync(file, "utf8")
      expect(/[^\x00-\x7f]/.test(text), file).toBe(false)
      // Static imports (the bundler hoists them to the top, each after a `;` or a line start) and literal dynamic ones.
      const statics = [...text.matchAll(/(?:^|;)import(?:[^;"'`]*?from)?\s*["']([^"']+)["']/gm)].map((m) => m[1]!)
      const dynamics = [...text.matchAll(/\bimport\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]!)
      const specifiers = [...statics, ...dynamics]
      // The bundles do import builtins: a pattern that saw none would prove nothing.
      if (file === bundleOf(program)) expect(statics.length, file).toBeGreaterThan(0)
      expect(
        specifiers.filter((s) => !s.startsWith("node:")),
        file
      ).toEqual([])
      expect(fs.existsSync(`${file}.map`), `${file}.map`).toBe(true)
    }
  })

  it("names the src/ file in a stack trace when source maps are on, the bundle when they are off", async () => {
    // A provider directory under a regular file: the server cannot listen, and the error is logged with its stack.
    const blocker = path.join(base, "not-a-directory")
    fs.writeFileSync(blocker, "")
    const args = [`--provider-dir=${path.join(blocker, "providers")}`, `--store=${path.join(base, "store.yaml")}`]
    const mapped = await runProgram("reference-provider/main.js", args, { NODE_OPTIONS: "--enable-source-maps" })
    expect(mapped.code).not.toBe(0)
    expect(mapped.output).toMatch(/at \S+ \(\S*\/src\/provider\/ProviderServer\.ts:\d+:\d+\)/)
    const plain = await runProgram("reference-provider/main.js", args, { NODE_OPTIONS: "" })
    expect(plain.code).not.toBe(0)
    expect(plain.output).toContain("secrets-store-reference-provider.bundle.js:")
    expect(plain.output).not.toContain("ProviderServer.ts")
  })
})
