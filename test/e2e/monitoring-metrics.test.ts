// The dashboard and the alert rules against real scrapes: the built driver (monitoring-metrics.driver.ts) goes
// through a publish, a failed publish, a rotation that restarts a Deployment, coalesced and stale-served publishes
// of a node-cached class, a provider circuit opened by a dead provider, health checks, a masked republish failure,
// a refused and a real unpublish; the built sync controller syncs one SecretSync and fails another. Every metric and
// label the dashboard or the rules name must be in those scrapes (or be a label the PodMonitor adds), and
// `promtool check metrics` must pass on each scrape.
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Yaml from "effect/encoding/Yaml"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parsePrometheus, type Exposition } from "../metrics/parsePrometheus.js"
import { eventually } from "../support/ChildProcess.js"
import { promqlRefs } from "../support/PromqlNames.js"
import { metricsOf, secretSync, spc, startWorld, type World } from "../sync-controller/world.js"
import { type DriverRun, runDriver } from "./monitoring-metrics.driver.js"

const monitoring = path.join(import.meta.dirname, "../../manifests/components/monitoring")

let driver: DriverRun | undefined
let world: World
let driverText = ""
let controllerText = ""

const promtoolCheckMetrics = (text: string) =>
  new Promise<{ code: number; output: string }>((resolve) => {
    const child = execFile("promtool", ["check", "metrics"], (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), output: stdout + stderr })
    )
    child.stdin?.end(text)
  })

beforeAll(async () => {
  driver = await runDriver()
  driverText = driver.text

  world = await startWorld()
  world.api.seed(spc())
  world.api.seed(secretSync("db"))
  world.api.seed(secretSync("bad", { secretProviderClassName: "absent" }))
  const controller = await world.startController()
  controllerText = await eventually(async () => {
    const text = await metricsOf(controller)
    for (const wanted of ['result="failure"', 'result="success"', "secretsync_secret_apply_total{"]) {
      if (!text.includes(wanted)) throw new Error(`no ${wanted} yet`)
    }
    return text
  }, 30_000)
}, 180_000)

afterAll(async () => {
  await driver?.close()
  await world?.close()
})

interface Dashboard {
  readonly panels: ReadonlyArray<{ readonly title: string; readonly targets?: ReadonlyArray<{ expr: string }> }>
  readonly templating: { readonly list: ReadonlyArray<{ name: string; type: string; query?: unknown }> }
}

/** Every PromQL expression of the dashboard (panels and query variables) and of the rules, with where it is. */
const expressions = (): ReadonlyArray<readonly [string, string]> => {
  const dashboard = JSON.parse(fs.readFileSync(path.join(monitoring, "dashboard.json"), "utf8")) as Dashboard
  const rules = Yaml.parse(fs.readFileSync(path.join(monitoring, "rules.yaml"), "utf8")) as {
    groups: ReadonlyArray<{ rules: ReadonlyArray<{ alert: string; expr: string }> }>
  }
  return [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => [`panel "${p.title}"`, t.expr] as const)),
    ...dashboard.templating.list
      .filter((v) => v.type === "query")
      .map((v) => [`variable ${v.name}`, (v.query as { query: string }).query] as const),
    ...rules.groups.flatMap((g) => g.rules.map((r) => [`alert ${r.alert}`, r.expr] as const))
  ]
}

/** The labels a PodMonitor scrape adds to every series: Prometheus's and the operator's, plus its relabelings. */
const targetLabels = (): ReadonlySet<string> => {
  const podMonitor = Yaml.parse(fs.readFileSync(path.join(monitoring, "podmonitor.yaml"), "utf8")) as {
    spec: { podMetricsEndpoints: ReadonlyArray<{ relabelings?: ReadonlyArray<{ targetLabel: string }> }> }
  }
  const relabelled = podMonitor.spec.podMetricsEndpoints.flatMap((e) => (e.relabelings ?? []).map((r) => r.targetLabel))
  return new Set(["job", "instance", "namespace", "pod", "container", "endpoint", ...relabelled])
}

/** Each sample name of the scrapes with the label names its series carry. */
const exported = (...scrapes: ReadonlyArray<Exposition>): ReadonlyMap<string, ReadonlySet<string>> => {
  const names = new Map<string, Set<string>>([["up", new Set()]]) // `up` is Prometheus's own, per target
  for (const sample of scrapes.flatMap((s) => s.samples)) {
    const labels = names.get(sample.name) ?? new Set<string>()
    for (const label of Object.keys(sample.labels)) labels.add(label)
    names.set(sample.name, labels)
  }
  return names
}

describe("the dashboard and the rules name only what the programs export (built, end to end)", () => {
  it("promtool check metrics passes on both scrapes, but for the abbreviated unit of upstream's names", async () => {
    // Upstream v1.6 names its histograms `*_duration_sec` (docs/upstream.md#metrics) and dashboards built for it
    // query those names: renaming them would break the drop-in. promtool's lint flags exactly that, nothing else.
    const upstreamNames = /^(rotation_reconcile|sync_k8s_secret|secretsync_sync|secretsync_provider_call)_duration_sec$/
    for (const text of [driverText, controllerText]) {
      const { output } = await promtoolCheckMetrics(text)
      const problems = output
        .split("\n")
        .filter((line) => line.trim() !== "")
        .filter((line) => {
          const [name, ...rest] = line.split(" ")
          return !(
            upstreamNames.test(name ?? "") && rest.join(" ") === "metric names should not contain abbreviated units"
          )
        })
      expect(problems, "promtool check metrics").toEqual([])
    }
  })

  it("promtool check metrics is real: it reports a counter without _total", async () => {
    const { code, output } = await promtoolCheckMetrics(
      "# HELP made_up A counter.\n# TYPE made_up counter\nmade_up 1\n"
    )
    expect(code).not.toBe(0)
    expect(output).toContain('made_up counter metrics should have "_total" suffix')
  })

  it("every metric and label of every expression is exported (or added by the PodMonitor)", () => {
    const names = exported(parsePrometheus(driverText), parsePrometheus(controllerText))
    const added = targetLabels()
    const problems: Array<string> = []
    for (const [where, expr] of expressions()) {
      const refs = promqlRefs(expr)
      const available = new Set([...added, "__name__"])
      for (const metric of refs.metrics) {
        const labels = names.get(metric)
        if (labels === undefined) problems.push(`${where}: ${metric} is not exported`)
        for (const label of labels ?? []) available.add(label)
      }
      for (const label of refs.labels) {
        if (!available.has(label)) problems.push(`${where}: label ${label} is on none of its metrics`)
      }
    }
    expect(problems).toEqual([])
  })

  it("the check is real: a misspelt metric or a label the metric lacks is reported", () => {
    const names = exported(parsePrometheus(driverText))
    expect(names.has("node_publish_total")).toBe(true)
    expect(names.has("node_publish_totals")).toBe(false)
    expect(names.get("node_unpublish_total")?.has("provider")).toBe(false)
    expect([...promqlRefs('sum by (provider) (rate(node_unpublish_total{job="$job"}[5m]))').labels]).toEqual([
      "provider",
      "job"
    ])
    // An offset's duration is no metric name.
    const offset = promqlRefs('sum by (node) (a_total{result="failed"} unless a_total{result="failed"} offset 15m)')
    expect([...offset.metrics]).toEqual(["a_total"])
  })
})
