// Comments cite the repository's own docs (`docs/<file>.md#anchor`), never files outside it: every cited anchor must
// be a heading of that doc (GitHub's slug), and nothing may point at the shared files the repository does not hold.
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../..")
const trees = ["src", "test", "bench", "scripts", "manifests", "native", "examples"]
const textFile = /\.(ts|mjs|js|c|yaml|yml|json|md)$/

const files = (dir: string): ReadonlyArray<string> =>
  !fs.existsSync(dir)
    ? []
    : fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name)
        if (entry.isDirectory()) return entry.name === "gen" || entry.name === "results" ? [] : files(full)
        return textFile.test(entry.name) ? [full] : []
      })

/** GitHub's heading anchor: lower case, punctuation other than `-` and `_` dropped, spaces to `-`. */
const slug = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-")

const anchorsOf = (doc: string): ReadonlySet<string> => {
  const text = fs.readFileSync(path.join(root, "docs", doc), "utf8")
  const headings = [...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1]!.replace(/`/g, "")))
  const explicit = [...text.matchAll(/<a (?:id|name)="([^"]+)"/g)].map((m) => m[1]!)
  return new Set([...headings, ...explicit])
}

// The documents beside the repository that older comments cited, spelled in pieces so this file does not cite them.
const outsideCitation = new RegExp(["SPEC\\.md", "upstream \u00a7", "\\.\\./sh" + "ared\\b"].join("|"))

const sources = trees
  .flatMap((tree) => files(path.join(root, tree)))
  .filter((file) => !file.endsWith(path.join("test", "docs", "citations.test.ts")))

describe("citations in code and manifests", () => {
  it("name only docs of this repository, at anchors that exist", () => {
    const cited = sources.flatMap((file) =>
      [...fs.readFileSync(file, "utf8").matchAll(/docs\/([\w-]+\.md)#([\w-]+)/g)].map((m) => ({
        where: path.relative(root, file),
        doc: m[1]!,
        anchor: m[2]!
      }))
    )
    expect(cited.length).toBeGreaterThan(20)
    const anchors = new Map<string, ReadonlySet<string>>()
    const broken = cited
      .filter(({ doc, anchor }) => {
        if (!fs.existsSync(path.join(root, "docs", doc))) return true
        if (!anchors.has(doc)) anchors.set(doc, anchorsOf(doc))
        return !anchors.get(doc)!.has(anchor)
      })
      .map(({ where, doc, anchor }) => `${where}: docs/${doc}#${anchor}`)
    expect(broken).toEqual([])
  })

  it("never point outside the repository (the contract file, upstream's section numbers, the shared folder)", () => {
    const outside = sources
      .filter((file) => outsideCitation.test(fs.readFileSync(file, "utf8")))
      .map((file) => path.relative(root, file))
    expect(outside).toEqual([])
  })

  it("slugs headings the way GitHub does", () => {
    expect(slug("Publish: argument checks")).toBe("publish-argument-checks")
    expect(slug("Re-dialled provider channels")).toBe("re-dialled-provider-channels")
    expect(slug("NodePublishVolume step by step")).toBe("nodepublishvolume-step-by-step")
  })
})
