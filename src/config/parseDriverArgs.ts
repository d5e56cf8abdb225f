// The command line's single entry: Go-syntax argv in, and out either a decoded DriverConfig to run with, the
// help text, or the version JSON. Every mistake is one ConfigError line naming the flag and the value.
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import { readBuildInfo, versionJson } from "./BuildInfo.js"
import { ConfigError } from "./ConfigError.js"
import { DriverConfigFromFlags, type DriverConfigFlags, type DriverConfigShape } from "./DriverConfig.js"
import { driverFlagDefaults, driverFlags, flagArity, helpText, klogCompatFlags, type FlagSpec } from "./Flags.js"
import { displayFlag, parseGoFlags } from "./GoFlags.js"
import { parseGoBool, parseGoInt } from "./GoValues.js"

const PROGRAM = "secrets-store-csi-driver"

export type DriverArgs =
  | {
      readonly _tag: "Run"
      readonly config: DriverConfigShape
      /** klog flags that were given but have no effect here: worth one warning line at startup. */
      readonly ignoredFlags: ReadonlyArray<string>
    }
  | { readonly _tag: "Help"; readonly text: string }
  | { readonly _tag: "Version"; readonly text: string }

const invalid = (name: string, value: string, why: string) =>
  new ConfigError({ message: `invalid value ${JSON.stringify(value)} for flag ${displayFlag(name)}: ${why}` })

/** Go checks bool and int values of every flag at parse time, so a bad klog flag stops startup there too. */
const checkCompatFlag = (flag: FlagSpec, value: string): ConfigError | undefined => {
  if (flag.type === "bool" && parseGoBool(value) === undefined)
    return invalid(flag.name, value, "must be true or false")
  if (flag.type === "int" && parseGoInt(value) === undefined) return invalid(flag.name, value, "must be an integer")
  return undefined
}

const decodeConfig = (given: ReadonlyMap<string, string>): Result.Result<DriverConfigShape, ConfigError> => {
  const encoded: Record<string, string> = { ...driverFlagDefaults }
  for (const [key, flag] of Object.entries(driverFlags)) {
    const value = given.get(flag.name)
    if (value !== undefined) encoded[key] = value
  }
  const exit = Schema.decodeExit(DriverConfigFromFlags)(encoded as DriverConfigFlags, { errors: "all" })
  if (Exit.isSuccess(exit)) return Result.succeed(exit.value)
  const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  const issues = failure === undefined ? [] : SchemaIssue.makeFormatterStandardSchemaV1()(failure.error.issue).issues
  // Report the bad flag that comes first on the command line, as Go's flag package would.
  const order = [...given.keys()]
  const located = issues
    .flatMap(({ message, path }) => {
      const segment = path?.[0]
      const key = String(typeof segment === "object" ? segment.key : segment)
      const flag = (driverFlags as Record<string, FlagSpec | undefined>)[key]
      return flag === undefined
        ? []
        : [{ flag, message, value: encoded[key] ?? "", position: order.indexOf(flag.name) }]
    })
    .sort((a, b) => a.position - b.position)
  const first = located[0]
  return Result.fail(
    first === undefined
      ? new ConfigError({ message: `invalid command line: ${issues[0]?.message ?? "cannot decode the flags"}` })
      : invalid(first.flag.name, first.value, first.message)
  )
}

export const parseDriverArgs = Effect.fn("parseDriverArgs")(function* (
  argv: ReadonlyArray<string>
): Effect.fn.Return<DriverArgs, ConfigError> {
  const parsed = parseGoFlags(argv, flagArity)
  if (Result.isFailure(parsed)) return yield* new ConfigError({ message: parsed.failure })
  if (parsed.success._tag === "Help") return { _tag: "Help", text: helpText(PROGRAM) }
  const given = parsed.success.values

  const version = given.get("version") ?? "false"
  const showVersion = parseGoBool(version)
  if (showVersion === undefined) return yield* invalid("version", version, "must be true or false")
  // Like upstream, --version wins over every later check of the other flags' meaning.
  if (showVersion) return { _tag: "Version", text: versionJson(yield* readBuildInfo()) }

  const ignoredFlags: Array<string> = []
  for (const flag of klogCompatFlags) {
    const value = given.get(flag.name)
    if (value === undefined) continue
    const problem = checkCompatFlag(flag, value)
    if (problem !== undefined) return yield* problem
    ignoredFlags.push(displayFlag(flag.name))
  }
  const config = decodeConfig(given)
  if (Result.isFailure(config)) return yield* config.failure
  return { _tag: "Run", config: config.success, ignoredFlags }
})
