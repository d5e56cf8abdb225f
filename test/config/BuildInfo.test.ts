// Build info from package.json and build-info.json, including every way those files can be missing or wrong.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { readFileSync } from "node:fs"
import { BuildInfo, readBuildInfo, versionJson } from "../../src/config/BuildInfo.js"

/** A scratch package root holding the given files (name -> content); removed when the test's scope closes. */
const packageDir = (files: Readonly<Record<string, string>>) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const dir = await mkdtemp(join(tmpdir(), "build-info-"))
      for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content)
      return dir
    }),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  ).pipe(Effect.map((dir) => pathToFileURL(`${dir}/`)))

const pkg = JSON.stringify({ name: "x", version: "1.6.0" })

describe("readBuildInfo", () => {
  it.live("reads version, commit and date", () =>
    Effect.gen(function* () {
      const root = yield* packageDir({
        "package.json": pkg,
        "build-info.json": JSON.stringify({ gitCommit: "abc123", buildDate: "2026-04-29T00:00:00Z" })
      })
      expect(yield* readBuildInfo(root)).toEqual({
        buildVersion: "v1.6.0",
        gitCommit: "abc123",
        buildDate: "2026-04-29T00:00:00Z"
      })
    })
  )

  const unknownCases: ReadonlyArray<readonly [string, Record<string, string>]> = [
    ["no build-info.json", { "package.json": pkg }],
    ["malformed build-info.json", { "package.json": pkg, "build-info.json": "{not json" }],
    ["build-info.json of the wrong shape", { "package.json": pkg, "build-info.json": JSON.stringify({ gitCommit: 7 }) }]
  ]
  for (const [name, files] of unknownCases) {
    it.live(`${name}: commit and date are unknown`, () =>
      Effect.gen(function* () {
        const info = yield* readBuildInfo(yield* packageDir(files))
        expect(info).toEqual({ buildVersion: "v1.6.0", gitCommit: "unknown", buildDate: "unknown" })
      })
    )
  }

  it.live("no package.json at all: everything unknown, no failure", () =>
    Effect.gen(function* () {
      const info = yield* readBuildInfo(yield* packageDir({}))
      expect(info).toEqual({ buildVersion: "unknown", gitCommit: "unknown", buildDate: "unknown" })
    })
  )

  it.live("by default reads this package's package.json, two levels above the module", () =>
    Effect.gen(function* () {
      const own = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
        version: string
      }
      const info = yield* Effect.provide(Effect.service(BuildInfo), BuildInfo.layer)
      expect(info.buildVersion).toBe(`v${own.version}`)
    })
  )
})

describe("versionJson", () => {
  it("is upstream's compact JSON with three keys", () => {
    expect(versionJson({ buildVersion: "v1.6.0", gitCommit: "abc", buildDate: "2026-04-29T00:00:00Z" })).toBe(
      `{"BuildVersion":"v1.6.0","GitCommit":"abc","BuildDate":"2026-04-29T00:00:00Z"}`
    )
  })
})
