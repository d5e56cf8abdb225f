// The folders of src/ form layers (docs/architecture.md#layers): an import goes to the same folder or a lower rank,
// and the infrastructure folders of rank 2 do not import each other. Read from the sources, so a new import that
// breaks the rule fails here, not in a review.
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const src = path.resolve(import.meta.dirname, "../../src")

/** Rank of each top-level entry of src/; files at the top (Driver.ts, main.ts) are the composition root. */
const ranks: Readonly<Record<string, number>> = {
  gen: 0,
  domain: 0,
  platform: 0,
  config: 1,
  mount: 2,
  writer: 2,
  provider: 2,
  k8s: 2,
  metrics: 2,
  publish: 3,
  sync: 3,
  csi: 4,
  standalone: 4,
  "reference-provider": 4,
  "sync-controller": 4,
  cli: 5,
  ".": 6
}

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(full)
    return entry.name.endsWith(".ts") ? [full] : []
  })

const folderOf = (file: string): string => {
  const rel = path.relative(src, file)
  return rel.includes("/") ? rel.split("/")[0]! : "."
}

/** Relative imports (static, type-only and dynamic) of one file, resolved to files under src/. */
const importsOf = (file: string): ReadonlyArray<string> => {
  const text = fs.readFileSync(file, "utf8")
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1]!)
  return specifiers.map((spec) => path.resolve(path.dirname(file), spec))
}

const edges = sourceFiles(src)
  .filter((file) => folderOf(file) !== "gen")
  .flatMap((file) =>
    importsOf(file)
      .filter((target) => target.startsWith(`${src}/`))
      .map((target) => ({
        from: path.relative(src, file),
        to: path.relative(src, target),
        fromFolder: folderOf(file),
        toFolder: folderOf(target)
      }))
  )

describe("src/ layering", () => {
  it("knows every folder of src/", () => {
    const folders = new Set(sourceFiles(src).map(folderOf))
    expect([...folders].filter((folder) => ranks[folder] === undefined)).toEqual([])
  })

  it("imports only go down (or stay in the folder), and rank-2 folders do not import each other", () => {
    const wrong = edges
      .filter(({ fromFolder, toFolder }) => {
        if (fromFolder === toFolder) return false
        const from = ranks[fromFolder]!
        const to = ranks[toFolder]!
        return to >= from
      })
      .map(({ from, to }) => `${from} -> ${to}`)
    expect(wrong).toEqual([])
  })

  it("finds the imports it checks (a parser that sees nothing would pass the rule above)", () => {
    expect(edges.length).toBeGreaterThan(100)
    expect(edges.some(({ fromFolder, toFolder }) => fromFolder === "publish" && toFolder === "mount")).toBe(true)
  })
})
