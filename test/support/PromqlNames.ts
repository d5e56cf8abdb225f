// The metric names and label names a PromQL expression refers to, for checking the dashboard and the alert rules
// against what the programs really export. A tokenizer, not a parser: enough for expressions written as
// `agg by (labels) (fn(metric{label="v"}[range]))`, strict about anything it does not know (it returns it as a
// metric name, so an unknown word fails the check instead of passing silently).

export interface PromqlRefs {
  readonly metrics: ReadonlySet<string>
  readonly labels: ReadonlySet<string>
}

const FUNCTIONS = new Set([
  "rate",
  "irate",
  "increase",
  "delta",
  "max_over_time",
  "min_over_time",
  "avg_over_time",
  "histogram_quantile",
  "sum",
  "avg",
  "max",
  "min",
  "count",
  "topk",
  "bottomk",
  "scalar",
  "vector",
  "absent",
  "clamp_min",
  "clamp_max",
  "label_values"
])
const GROUPING = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"])
const OPERATORS = new Set(["and", "or", "unless", "bool", "offset"])

/** Grafana's variables in a range or a value, replaced by something PromQL-shaped. */
const withoutVariables = (expr: string): string =>
  expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, "5m")
    .replace(/\$\{?memory_limit\}?/g, "209715200")
    .replace(/"\$\{?[a-z_]+\}?"/g, '"v"')

export const promqlRefs = (source: string): PromqlRefs => {
  const expr = withoutVariables(source)
  const metrics = new Set<string>()
  const labels = new Set<string>()
  let i = 0
  const word = /[a-zA-Z_:][a-zA-Z0-9_:]*/y
  while (i < expr.length) {
    const c = expr[i] ?? ""
    if (c === '"') {
      const end = /"(?:[^"\\]|\\.)*"/y
      end.lastIndex = i
      if (end.exec(expr) === null) throw new Error(`unterminated string in ${source}`)
      i = end.lastIndex
    } else if (c === "[") {
      i = expr.indexOf("]", i) + 1
    } else if (c === "{") {
      const close = expr.indexOf("}", i)
      const body = expr.slice(i + 1, close).replace(/"(?:[^"\\]|\\.)*"/g, '""')
      for (const matcher of body.split(",")) {
        const name = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/.exec(matcher)?.[1]
        if (name !== undefined) labels.add(name)
        else if (matcher.trim() !== "") throw new Error(`bad matcher ${matcher} in ${source}`)
      }
      i = close + 1
    } else if (/[a-zA-Z_:]/.test(c)) {
      word.lastIndex = i
      const name = word.exec(expr)?.[0] ?? ""
      i += name.length
      const next = expr.slice(i).trimStart()
      if (GROUPING.has(name)) {
        if (next.startsWith("(")) {
          const open = expr.indexOf("(", i)
          const close = expr.indexOf(")", open)
          for (const label of expr.slice(open + 1, close).split(",")) if (label.trim() !== "") labels.add(label.trim())
          i = close + 1
        }
      } else if (FUNCTIONS.has(name) || OPERATORS.has(name)) {
        if (name === "offset") {
          // `offset 15m`: the duration is no metric name.
          const duration = /\s*-?(?:\d+(?:ms|[smhdwy]))+/y
          duration.lastIndex = i
          if (duration.exec(expr) === null) throw new Error(`offset without a duration in ${source}`)
          i = duration.lastIndex
        } else if (name === "label_values") {
          // label_values(metric{…}, label): the last argument is a label.
          const close = expr.indexOf(")", i)
          const args = expr.slice(expr.indexOf("(", i) + 1, close)
          const label = args.slice(args.lastIndexOf(",") + 1).trim()
          labels.add(label)
          return mergeRefs({ metrics, labels }, promqlRefs(args.slice(0, args.lastIndexOf(","))))
        }
      } else if (!/^(Inf|NaN)$/.test(name)) metrics.add(name)
    } else i++
  }
  return { metrics, labels }
}

export const mergeRefs = (...all: ReadonlyArray<PromqlRefs>): PromqlRefs => ({
  metrics: new Set(all.flatMap((r) => [...r.metrics])),
  labels: new Set(all.flatMap((r) => [...r.labels]))
})
