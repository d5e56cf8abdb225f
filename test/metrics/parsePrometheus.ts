// A strict parser of the Prometheus text format 0.0.4 for tests: every line must be a HELP, a TYPE or a sample
// whose family was declared, so a malformed exposition fails the test instead of being substring-matched.

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Exposition {
  readonly help: ReadonlyMap<string, string>
  readonly types: ReadonlyMap<string, string>
  readonly samples: ReadonlyArray<Sample>
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/

const unescape = (text: string) => text.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))

const parseValue = (text: string) => {
  if (text === "+Inf") return Infinity
  if (text === "-Inf") return -Infinity
  if (text === "NaN") return NaN
  const value = Number(text)
  if (text.trim() === "" || Number.isNaN(value)) throw new Error(`bad sample value ${JSON.stringify(text)}`)
  return value
}

const parseLabels = (text: string): { labels: Record<string, string>; rest: string } => {
  const labels: Record<string, string> = {}
  let rest = text
  while (!rest.startsWith("}")) {
    const name = LABEL_NAME.exec(rest)?.[0]
    if (name === undefined || rest[name.length] !== "=" || rest[name.length + 1] !== '"')
      throw new Error(`bad label in ${text}`)
    const value = /^"((?:[^"\\\n]|\\[\\"n])*)"/.exec(rest.slice(name.length + 1))
    if (value === null) throw new Error(`bad label value in ${text}`)
    if (name in labels) throw new Error(`duplicate label ${name}`)
    labels[name] = unescape(value[1] ?? "")
    rest = rest.slice(name.length + 1 + value[0].length)
    if (rest.startsWith(",")) rest = rest.slice(1)
    else if (!rest.startsWith("}")) throw new Error(`bad label separator in ${text}`)
  }
  return { labels, rest: rest.slice(1) }
}

/** The family a sample belongs to: histogram samples carry _bucket/_sum/_count suffixes. */
const familyOf = (name: string, types: ReadonlyMap<string, string>) => {
  if (types.has(name)) return name
  const base = name.replace(/_(bucket|sum|count)$/, "")
  return types.get(base) === "histogram" ? base : undefined
}

const parseSample = (line: string, types: ReadonlyMap<string, string>): Sample => {
  const name = NAME.exec(line)?.[0]
  if (name === undefined) throw new Error(`bad sample line ${line}`)
  if (familyOf(name, types) === undefined) throw new Error(`sample ${name} has no # TYPE`)
  const afterName = line.slice(name.length)
  const { labels, rest } = afterName.startsWith("{") ? parseLabels(afterName.slice(1)) : { labels: {}, rest: afterName }
  if (!rest.startsWith(" ")) throw new Error(`bad sample line ${line}`)
  return { name, labels, value: parseValue(rest.slice(1)) }
}

export const parsePrometheus = (text: string): Exposition => {
  if (text !== "" && !text.endsWith("\n")) throw new Error("exposition must end with a newline")
  const help = new Map<string, string>()
  const types = new Map<string, string>()
  const samples: Array<Sample> = []
  for (const line of text.split("\n").slice(0, -1)) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line)
    if (meta) {
      const [, kind, name = "", rest = ""] = meta
      const target = kind === "HELP" ? help : types
      if (target.has(name)) throw new Error(`duplicate # ${kind} for ${name}`)
      if (kind === "TYPE" && !["counter", "gauge", "histogram", "summary", "untyped"].includes(rest))
        throw new Error(`bad type ${rest}`)
      target.set(name, kind === "HELP" ? unescape(rest) : rest)
    } else {
      samples.push(parseSample(line, types))
    }
  }
  return { help, types, samples }
}

/** The samples of one metric name, as `labels => value` entries in a plain object keyed by sorted label JSON. */
export const samplesOf = (
  exposition: Exposition,
  name: string
): Array<{ labels: Record<string, string>; value: number }> =>
  exposition.samples
    .filter((sample) => sample.name === name)
    .map(({ labels, value }) => ({ labels: { ...labels }, value }))
