// What this build is: the package version (also GetPluginInfo's vendor_version) and the git commit and build
// date that scripts/build-info.mjs records in build-info.json. Read at runtime; a missing file is "unknown".
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { readFile } from "node:fs/promises"

export interface BuildInfoShape {
  /** `v` + package.json's version, as upstream's BuildVersion (`v1.6.0`). */
  readonly buildVersion: string
  readonly gitCommit: string
  readonly buildDate: string
}

/** Both src/config/ (vitest) and dist/config/ (built) sit two levels below the package root. */
const packageRoot: URL = new URL("../../", import.meta.url)

const UNKNOWN = "unknown"

const PackageJson = Schema.fromJsonString(Schema.Struct({ version: Schema.NonEmptyString }))
const BuildInfoJson = Schema.fromJsonString(
  Schema.Struct({
    gitCommit: Schema.optionalKey(Schema.NonEmptyString),
    buildDate: Schema.optionalKey(Schema.NonEmptyString)
  })
)

/** Reads and decodes one JSON file; any failure (absent, unreadable, malformed) is None, never an error. */
const readJson = <A>(schema: Schema.Codec<A, string>, url: URL) =>
  Effect.tryPromise(() => readFile(url, "utf8")).pipe(Effect.flatMap(Schema.decodeUnknownEffect(schema)), Effect.option)

/** Never fails: a build without build-info.json (or even package.json) still starts and reports "unknown". */
export const readBuildInfo = Effect.fn("BuildInfo.read")(function* (root: URL = packageRoot) {
  const pkg = yield* readJson(PackageJson, new URL("package.json", root))
  const info = yield* readJson(BuildInfoJson, new URL("build-info.json", root))
  return {
    buildVersion: pkg._tag === "Some" ? `v${pkg.value.version}` : UNKNOWN,
    gitCommit: (info._tag === "Some" ? info.value.gitCommit : undefined) ?? UNKNOWN,
    buildDate: (info._tag === "Some" ? info.value.buildDate : undefined) ?? UNKNOWN
  } satisfies BuildInfoShape
})

/** Upstream's `--version` output: compact JSON with exactly these three keys. */
export const versionJson = (info: BuildInfoShape): string =>
  JSON.stringify({ BuildVersion: info.buildVersion, GitCommit: info.gitCommit, BuildDate: info.buildDate })

export class BuildInfo extends Context.Service<BuildInfo, BuildInfoShape>()("BuildInfo") {
  static readonly layer: Layer.Layer<BuildInfo> = Layer.effect(BuildInfo, readBuildInfo())

  static readonly layerTest = (info: Partial<BuildInfoShape> = {}): Layer.Layer<BuildInfo> =>
    Layer.succeed(BuildInfo, { buildVersion: "v0.0.0-test", gitCommit: UNKNOWN, buildDate: UNKNOWN, ...info })
}
