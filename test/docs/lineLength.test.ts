// The 120-column limit on code: every .ts/.mjs line under src/ (except the generated src/gen), test/, bench/ and
// scripts/ fits, so long strings and comments are split by hand where the formatter cannot do it.
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../..")
const trees = ["src", "test", "bench", "scripts"]
const generated = path.join(root, "src", "gen")
const codeFile = /\.(ts|mjs)$/
const LIMIT = 120

/** Code files under `dir`, skipping the generated tree and dot directories (build output such as bench/.build). */
const files = (dir: string): ReadonlyArray<string> =>
  !fs.existsSync(dir)
    ? []
    : fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name)
        if (entry.isDirectory()) return full === generated || entry.name.startsWith(".") ? [] : files(full)
        return codeFile.test(entry.name) ? [full] : []
      })

describe("line length", () => {
  it(`no .ts/.mjs line in ${trees.join(", ")} (src/gen aside) is longer than ${LIMIT} characters`, () => {
    const sources = trees.flatMap((tree) => files(path.join(root, tree)))
    expect(sources.length).toBeGreaterThan(100)
    const long = sources.flatMap((file) =>
      fs
        .readFileSync(file, "utf8")
        .split(/\r?\n/)
        .flatMap((line, i) => {
          // Characters (code points), not UTF-16 units: an astral character counts once.
          const length = [...line].length
          return length > LIMIT ? [`${path.relative(root, file)}:${i + 1} (${length} characters)`] : []
        })
    )
    expect(long).toEqual([])
  })
})
