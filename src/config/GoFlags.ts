// Go `flag` package syntax: one or two dashes for every flag, `name=value` or `name value`, bool flags bare or
// with `=value` only. Produces raw strings per flag (last occurrence wins, as in Go); values are checked later
// by the flag schemas, so this file knows syntax, never meaning.
import * as Result from "effect/Result"

/** The only thing syntax needs to know about a flag: whether it takes its value from the next argument. */
export type FlagArity = "bool" | "value"

type GoFlagsOutcome =
  | { readonly _tag: "Help" }
  | { readonly _tag: "Parsed"; readonly values: ReadonlyMap<string, string> }

/** How a flag is shown in messages: `-v` for one letter (klog style), `--endpoint` otherwise. */
export const displayFlag = (name: string): string => (name.length === 1 ? `-${name}` : `--${name}`)

interface Token {
  readonly name: string
  readonly inlineValue: string | undefined
}

const splitFlag = (arg: string): Result.Result<Token, string> => {
  const body = arg.slice(arg.startsWith("--") ? 2 : 1)
  if (body === "" || body.startsWith("-") || body.startsWith("=")) {
    return Result.fail(`bad flag syntax: ${arg}`)
  }
  const eq = body.indexOf("=")
  return Result.succeed(
    eq < 0 ? { name: body, inlineValue: undefined } : { name: body.slice(0, eq), inlineValue: body.slice(eq + 1) }
  )
}

/**
 * Reads argv like Go's flag.Parse, with one deliberate difference: Go silently stops at the first non-flag
 * argument and ignores everything after it; here a stray argument is an error, so no flag is ever dropped.
 */
export const parseGoFlags = (
  argv: ReadonlyArray<string>,
  flags: ReadonlyMap<string, FlagArity>
): Result.Result<GoFlagsOutcome, string> => {
  const values = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    if (arg === "--") {
      const extra = argv[i + 1]
      return extra === undefined ? Result.succeed({ _tag: "Parsed", values }) : Result.fail(unexpected(extra))
    }
    if (arg.length < 2 || !arg.startsWith("-")) return Result.fail(unexpected(arg))
    const token = splitFlag(arg)
    if (Result.isFailure(token)) return Result.fail(token.failure)
    const { name, inlineValue } = token.success
    const arity = flags.get(name)
    if (arity === undefined) {
      if (name === "help" || name === "h") return Result.succeed({ _tag: "Help" })
      return Result.fail(`unknown flag: ${arg.split("=", 1)[0]}`)
    }
    if (inlineValue !== undefined || arity === "bool") {
      values.set(name, inlineValue ?? "true")
      continue
    }
    const next = argv[i + 1]
    if (next === undefined) return Result.fail(`flag needs an argument: ${displayFlag(name)}`)
    values.set(name, next)
    i++
  }
  return Result.succeed({ _tag: "Parsed", values })
}

const unexpected = (arg: string): string =>
  `unexpected argument ${JSON.stringify(arg)}: flags start with - or -- (bool flags take a value only as --flag=value)`
