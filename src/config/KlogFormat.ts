// The two line shapes of klog: the text header `Lmmdd hh:mm:ss.uuuuuu pid location] "msg" key="value"` with the
// value quoting of klog.InfoS, and the JSON object of Kubernetes' JSON logger (`ts`, `caller`, `msg`, `v`, `err`,
// then the keys flat). Pure functions of one entry, so the tests compare them with klog's own output field by field.

/** A Kubernetes object reference, klog.KObj: `namespace/name` in text, `{"name","namespace"}` in JSON. */
export class KObj {
  readonly namespace: string
  readonly name: string
  constructor(namespace: string, name: string) {
    this.namespace = namespace
    this.name = name
  }
  toString(): string {
    return this.namespace === "" ? this.name : `${this.namespace}/${this.name}`
  }
  toJSON(): { name: string; namespace?: string } {
    return this.namespace === "" ? { name: this.name } : { name: this.name, namespace: this.namespace }
  }
}

export const kObj = (object: { readonly namespace: string; readonly name: string }): KObj =>
  new KObj(object.namespace, object.name)

export type Severity = "I" | "W" | "E" | "F"

/** One entry, already split into klog's parts. `err` comes first after the message, like klog.ErrorS. */
export interface KlogEntry {
  readonly severity: Severity
  /** Microseconds since the epoch. */
  readonly micros: bigint
  readonly pid: number
  readonly location: string
  readonly message: string
  /** The klog.V level of an Info line (JSON `v`); error lines have none. */
  readonly v: number
  readonly err: string | undefined
  readonly values: ReadonlyArray<readonly [string, unknown]>
}

const pad = (n: number, width: number, fill = "0"): string => String(n).padStart(width, fill)

/** klog's header: severity, mmdd, time with microseconds (UTC, as in a container), the pid in 7 columns. */
export const klogHeader = (severity: Severity, micros: bigint, pid: number, location: string): string => {
  const date = new Date(Number(micros / 1000n))
  const fraction = Number(micros % 1_000_000n)
  return (
    `${severity}${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)} ` +
    `${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}.` +
    `${pad(fraction, 6)} ${pad(pid, 7, " ")} ${location}] `
  )
}

const hex = (code: number, width: number): string => code.toString(16).padStart(width, "0")
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  "\u0007": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\u000b": "\\v",
  '"': '\\"',
  "\\": "\\\\"
}
// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u

// Printable ASCII but the quote and the backslash: nothing to escape (the common case, a regex test per value).
const PLAIN_ASCII = /^[ !#-[\]-~]*$/

/** Go's strconv.Quote: what klog writes for the message and every string value. */
export const goQuote = (text: string): string => {
  if (PLAIN_ASCII.test(text)) return `"${text}"`
  let out = '"'
  for (const char of text) {
    const short = SHORT_ESCAPES[char]
    const code = char.codePointAt(0) ?? 0
    if (short !== undefined) out += short
    else if (PRINTABLE.test(char)) out += char
    else if (code < 0x80) out += `\\x${hex(code, 2)}`
    else if (code <= 0xffff) out += `\\u${hex(code, 4)}`
    else out += `\\U${hex(code, 8)}`
  }
  return `${out}"`
}

/** A string value: quoted on one line, or klog's `=<` block when it spans lines. */
const textString = (value: string): string => {
  if (!value.includes("\n")) return `=${goQuote(value)}`
  const lines = value.split("\n")
  const last = lines.pop() ?? ""
  const body = lines.map((line) => `\t${line}\n`).join("")
  return last === "" ? `=<\n${body} >` : `=<\n${body}\t${last}\n >`
}

const jsonText = (value: unknown): string =>
  typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? JSON.stringify(value)
    : (JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) ?? "<nil>")

/** klog's KVFormat: strings, Stringers and errors quoted, numbers and booleans bare, nil as <nil>. */
export const textValue = (value: unknown): string => {
  switch (typeof value) {
    case "string":
      return textString(value)
    case "number":
      return `=${Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN"}`
    case "bigint":
    case "boolean":
      return `=${String(value)}`
    case "undefined":
      return "=<nil>"
    case "function":
    case "symbol":
      return textString(String(value))
  }
  if (value === null) return "=<nil>"
  if (value instanceof KObj) return textString(value.toString())
  if (value instanceof Error) return textString(value.message)
  // Arrays and records have no Go %+v here: they are written as JSON, unquoted.
  return `=${jsonText(value)}`
}

export const formatText = (entry: KlogEntry): string => {
  let line = klogHeader(entry.severity, entry.micros, entry.pid, entry.location) + goQuote(entry.message)
  if (entry.err !== undefined) line += ` err${textString(entry.err)}`
  for (const [key, value] of entry.values) line += ` ${key}${textValue(value)}`
  return line
}

const jsonValue = (value: unknown): unknown => {
  if (value instanceof KObj) return value.toJSON()
  if (value instanceof Error) return value.message
  if (typeof value === "bigint") return value.toString()
  if (typeof value === "number" && !Number.isFinite(value)) return String(value)
  return value ?? null
}

/**
 * The Kubernetes JSON logger's object (k8s.io/component-base/logs/json): `ts` in milliseconds since the epoch as a
 * float (its epochMillisTimeEncoder; the structured-logging KEP's example shows seconds, the logger writes
 * milliseconds), `v` on Info and Warning lines, then the keys, then `err` (zapr adds it after them).
 */
export const formatJson = (entry: KlogEntry): string => {
  const millis = entry.micros / 1_000n
  const ts = `${millis}.${pad(Number(entry.micros % 1_000n), 3)}`.replace(/\.?0+$/, "")
  let out = `{"ts":${ts},"caller":${JSON.stringify(entry.location)},"msg":${JSON.stringify(entry.message)}`
  if (entry.severity === "I" || entry.severity === "W") out += `,"v":${entry.v}`
  for (const [key, value] of entry.values) out += `,${JSON.stringify(key)}:${jsonText(jsonValue(value))}`
  if (entry.err !== undefined) out += `,"err":${JSON.stringify(entry.err)}`
  return `${out}}`
}
