// A small in-process registry of labelled counters, gauges and histograms rendered in the Prometheus text
// exposition format 0.0.4. Ours rather than effect's PrometheusMetrics: the wire names stay exactly as written,
// each registry is a value (no process-global state), and it does not pull in effect/http.

export type Labels<L extends string> = { readonly [K in L]: string }

/** Anything that renders itself as one metric family (HELP, TYPE, samples). */
export interface Family {
  readonly render: (lines: Array<string>) => void
}

const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

/** Go's strconv 'g' formatting for the values we use: integers plainly, +Inf/-Inf/NaN spelled out. */
const formatValue = (value: number): string =>
  Number.isNaN(value) ? "NaN" : value === Infinity ? "+Inf" : value === -Infinity ? "-Inf" : String(value)

const labelText = (pairs: ReadonlyArray<readonly [string, string]>) =>
  pairs.length === 0 ? "" : `{${pairs.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(",")}}`

const header = (lines: Array<string>, name: string, help: string, type: string) => {
  lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`)
}

/**
 * Distinct values kept per label of one family; later new values are recorded as `OTHER_LABEL_VALUE`. Some
 * label values come from requests (the provider a pod names): without a cap, every distinct value would add
 * a series forever, growing the driver's memory and every scrape without bound.
 */
const MAX_LABEL_VALUES = 32
const OTHER_LABEL_VALUE = "other"

/** One child per label set, keyed by the values in the declared label order. */
const children = <L extends string, S>(labelNames: ReadonlyArray<L>, create: () => S) => {
  const byKey = new Map<string, { readonly pairs: ReadonlyArray<readonly [string, string]>; readonly state: S }>()
  const seen = labelNames.map(() => new Set<string>())
  const bounded = (index: number, value: string) => {
    const values = seen[index]!
    if (values.has(value)) return value
    if (values.size >= MAX_LABEL_VALUES) return OTHER_LABEL_VALUE
    values.add(value)
    return value
  }
  return {
    get: (labels: Labels<L>): S => {
      const pairs = labelNames.map((name, i) => [name, bounded(i, labels[name])] as const)
      const key = JSON.stringify(pairs.map(([, value]) => value))
      const existing = byKey.get(key)
      if (existing) return existing.state
      const state = create()
      byKey.set(key, { pairs, state })
      return state
    },
    entries: () => [...byKey.values()],
    /** Removes a series; its label values keep their place under the bound. */
    delete: (labels: Labels<L>) =>
      void byKey.delete(JSON.stringify(labelNames.map((name, i) => bounded(i, labels[name]))))
  }
}

export interface Counter<L extends string> extends Family {
  readonly inc: (labels: Labels<L>, by?: number) => void
}

/** Families with no samples are left out, as client_golang's Gather does. */
export const counter = <L extends string>(name: string, help: string, labelNames: ReadonlyArray<L>): Counter<L> => {
  const series = children(labelNames, () => ({ value: 0 }))
  return {
    inc: (labels, by = 1) => void (series.get(labels).value += by),
    render: (lines) => {
      const entries = series.entries()
      if (entries.length === 0) return
      header(lines, name, help, "counter")
      for (const { pairs, state } of entries) lines.push(`${name}${labelText(pairs)} ${formatValue(state.value)}`)
    }
  }
}

export interface Gauge<L extends string> extends Family {
  readonly set: (labels: Labels<L>, value: number) => void
  /** Drops the series, for a thing that is gone (not zero). */
  readonly remove: (labels: Labels<L>) => void
}

export const gauge = <L extends string>(name: string, help: string, labelNames: ReadonlyArray<L>): Gauge<L> => {
  const series = children(labelNames, () => ({ value: 0 }))
  return {
    set: (labels, value) => void (series.get(labels).value = value),
    remove: (labels) => series.delete(labels),
    render: (lines) => {
      const entries = series.entries()
      if (entries.length === 0) return
      header(lines, name, help, "gauge")
      for (const { pairs, state } of entries) lines.push(`${name}${labelText(pairs)} ${formatValue(state.value)}`)
    }
  }
}

export interface Histogram<L extends string> extends Family {
  readonly observe: (labels: Labels<L>, value: number) => void
}

export const histogram = <L extends string>(
  name: string,
  help: string,
  labelNames: ReadonlyArray<L>,
  buckets: ReadonlyArray<number>
): Histogram<L> => {
  const bounds = [...buckets].sort((a, b) => a - b)
  const series = children(labelNames, () => ({ counts: bounds.map(() => 0), sum: 0, count: 0 }))
  return {
    observe: (labels, value) => {
      const state = series.get(labels)
      const index = bounds.findIndex((bound) => value <= bound)
      if (index >= 0) state.counts[index] = (state.counts[index] ?? 0) + 1
      state.sum += value
      state.count += 1
    },
    render: (lines) => {
      const entries = series.entries()
      if (entries.length === 0) return
      header(lines, name, help, "histogram")
      for (const { pairs, state } of entries) {
        let cumulative = 0
        bounds.forEach((bound, i) => {
          cumulative += state.counts[i] ?? 0
          lines.push(`${name}_bucket${labelText([...pairs, ["le", formatValue(bound)]])} ${cumulative}`)
        })
        lines.push(`${name}_bucket${labelText([...pairs, ["le", "+Inf"]])} ${state.count}`)
        lines.push(`${name}_sum${labelText(pairs)} ${formatValue(state.sum)}`)
        lines.push(`${name}_count${labelText(pairs)} ${state.count}`)
      }
    }
  }
}

/** A value read at scrape time (gauge or counter), without labels. */
export const sampled = (name: string, help: string, type: "gauge" | "counter", read: () => number): Family => ({
  render: (lines) => {
    header(lines, name, help, type)
    lines.push(`${name} ${formatValue(read())}`)
  }
})

export const renderFamilies = (families: ReadonlyArray<Family>): string => {
  const lines: Array<string> = []
  for (const family of families) family.render(lines)
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`
}
