// Go's textual value syntaxes, as upstream's `flag` package reads them: durations (time.ParseDuration),
// booleans (strconv.ParseBool), integers (strconv.ParseInt base 0) and listen addresses (net.SplitHostPort).
// Pure functions: `undefined` means "not valid Go syntax"; the flag schemas turn that into a message.
import * as Duration from "effect/Duration"

const NANOS_PER = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5 micro sign
  μs: 1_000n, // U+03BC Greek mu: Go accepts both spellings
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n
} as const satisfies Record<string, bigint>

const MAX_INT64 = 9_223_372_036_854_775_807n
const COMPONENT = /^(\d*)(?:\.(\d*))?([^\d.]+)/

/** time.ParseDuration: `300ms`, `1h30m`, `1.5h`, `-2s`, a bare `0`; returns nanoseconds. */
export const parseGoDuration = (text: string): bigint | undefined => {
  const negative = text.startsWith("-")
  let rest = negative || text.startsWith("+") ? text.slice(1) : text
  if (rest === "0") return 0n
  if (rest === "") return undefined
  let total = 0n
  while (rest !== "") {
    const match = COMPONENT.exec(rest)
    if (match === null) return undefined
    const [all, whole = "", fraction = "", unit = ""] = match
    // Go requires a digit on at least one side of the dot (".s" and "s" are errors, "1.s" is not).
    if (whole === "" && fraction === "") return undefined
    const scale = (NANOS_PER as Record<string, bigint>)[unit]
    if (scale === undefined) return undefined
    total += BigInt(whole === "" ? "0" : whole) * scale
    if (fraction !== "") total += (BigInt(fraction) * scale) / 10n ** BigInt(fraction.length)
    if (total > MAX_INT64) return undefined
    rest = rest.slice(all.length)
  }
  return negative ? -total : total
}

const decimal = (value: bigint, scale: bigint): string => {
  const whole = value / scale
  const fraction = value % scale
  if (fraction === 0n) return `${whole}`
  const digits = String(fraction)
    .padStart(String(scale).length - 1, "0")
    .replace(/0+$/, "")
  return `${whole}.${digits}`
}

/** time.Duration.String: `2m0s`, `1h30m0s`, `300ms`, `0s`; what Go's help text shows as defaults. */
export const formatGoDuration = (duration: Duration.Duration): string => {
  const nanos = Duration.toNanosUnsafe(duration)
  const sign = nanos < 0n ? "-" : ""
  let rest = nanos < 0n ? -nanos : nanos
  if (rest === 0n) return "0s"
  if (rest < NANOS_PER.s) {
    const [unit, scale] =
      rest < NANOS_PER.us ? ["ns", 1n] : rest < NANOS_PER.ms ? ["µs", NANOS_PER.us] : ["ms", NANOS_PER.ms]
    return `${sign}${decimal(rest, scale)}${unit}`
  }
  const hours = rest / NANOS_PER.h
  rest %= NANOS_PER.h
  const minutes = rest / NANOS_PER.m
  rest %= NANOS_PER.m
  const h = hours > 0n ? `${hours}h` : ""
  const m = hours > 0n || minutes > 0n ? `${minutes}m` : ""
  return `${sign}${h}${m}${decimal(rest, NANOS_PER.s)}s`
}

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"])
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"])

/** strconv.ParseBool. */
export const parseGoBool = (text: string): boolean | undefined =>
  TRUE.has(text) ? true : FALSE.has(text) ? false : undefined

const INT_FORMS: ReadonlyArray<readonly [RegExp, number]> = [
  [/^0[xX]([0-9a-fA-F]+)$/, 16],
  [/^0[bB]([01]+)$/, 2],
  [/^0[oO]?([0-7]+)$/, 8], // Go's base 0 reads a leading 0 as octal
  [/^(0|[1-9]\d*)$/, 10]
]

/** strconv.ParseInt(text, 0, 64), limited to JavaScript's safe integers. */
export const parseGoInt = (text: string): number | undefined => {
  const negative = text.startsWith("-")
  const unsigned = negative || text.startsWith("+") ? text.slice(1) : text
  for (const [form, radix] of INT_FORMS) {
    const digits = form.exec(unsigned)?.[1]
    if (digits === undefined) continue
    const value = Number.parseInt(digits, radix) * (negative ? -1 : 1)
    return Number.isSafeInteger(value) ? value : undefined
  }
  return undefined
}

export interface HostPort {
  readonly host: string
  readonly port: number
}

const HOST_PORT = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/

/** net.SplitHostPort with a numeric port: `:8095`, `0.0.0.0:8095`, `[::1]:8095`; "" host = all interfaces. */
export const parseHostPort = (text: string): HostPort | undefined => {
  const match = HOST_PORT.exec(text)
  if (match === null) return undefined
  const port = Number(match[3])
  return port > 65_535 ? undefined : { host: match[1] ?? match[2] ?? "", port }
}

/** The inverse of parseHostPort, bracketing IPv6 hosts as Go's net.JoinHostPort does. */
export const formatHostPort = ({ host, port }: HostPort): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`
