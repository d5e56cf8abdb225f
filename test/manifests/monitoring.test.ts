// components/monitoring: it renders with kustomize; the PrometheusRule is rules.yaml; promtool checks the rules and
// runs their unit tests (each alert fires and stays quiet in rules.test.yaml); every alert names its reason and
// links a heading of README's Runbook. The names the dashboard and the rules use are checked against real scrapes in
// test/e2e/monitoring-metrics.test.ts.
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import * as Yaml from "effect/encoding/Yaml"
import { describe, expect, it } from "vitest"
import { FailureReason } from "../../src/domain/FailureReason.js"
import { promqlRefs } from "../support/PromqlNames.js"
import { kustomizeWithComponents, repoRoot } from "./render.js"

const dir = `${repoRoot}manifests/components/monitoring`
const execFileAsync = promisify(execFile)

interface Rule {
  readonly alert: string
  readonly expr: string
  readonly for?: string
  readonly labels?: Record<string, string>
  readonly annotations: Record<string, string>
}
interface RuleFile {
  readonly groups: ReadonlyArray<{ readonly name: string; readonly rules: ReadonlyArray<Rule> }>
}

const rulesFile = Yaml.parse(readFileSync(`${dir}/rules.yaml`, "utf8")) as RuleFile
const rules = rulesFile.groups.flatMap((g) => g.rules)
const ruleTests = Yaml.parse(readFileSync(`${dir}/rules.test.yaml`, "utf8")) as {
  tests: ReadonlyArray<{
    alert_rule_test: ReadonlyArray<{ alertname: string; exp_alerts: ReadonlyArray<unknown> | null }>
  }>
}

/** GitHub's anchor of a heading: lower-case, punctuation dropped (but `-` and `_`), each space a `-`. */
const githubAnchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-")

/** The anchors of the headings in README's "## Runbook" section. */
const runbookAnchors = (): ReadonlyArray<string> => {
  const readme = readFileSync(`${repoRoot}README.md`, "utf8")
  const section = /^## Runbook\n([\s\S]*?)^## /m.exec(readme)?.[1] ?? ""
  return [...section.matchAll(/^#{3,6} (.+)$/gm)].map((m) => githubAnchor(m[1] ?? ""))
}

const promtool = (...args: ReadonlyArray<string>) => execFileAsync("promtool", args, { cwd: dir })

describe("components/monitoring", () => {
  it("renders: the PodMonitor, the PrometheusRule of rules.yaml, the dashboard ConfigMap for Grafana", async () => {
    const objects = await kustomizeWithComponents(["monitoring"])
    const podMonitor = objects.find((o) => o.kind === "PodMonitor")
    expect(podMonitor?.["spec"]).toMatchObject({
      jobLabel: "app",
      podMetricsEndpoints: [{ port: "metrics", path: "/metrics" }]
    })
    const rule = objects.find((o) => o.kind === "PrometheusRule")
    expect(rule?.["spec"]).toEqual(rulesFile)
    const dashboard = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name.includes("dashboard"))
    expect(dashboard?.metadata).toMatchObject({
      name: "secrets-store-csi-driver-dashboard",
      namespace: "kube-system",
      labels: { grafana_dashboard: "1" }
    })
    const data = dashboard?.["data"] as Record<string, string>
    expect(JSON.parse(data["dashboard.json"] ?? "")).toEqual(JSON.parse(readFileSync(`${dir}/dashboard.json`, "utf8")))
  })

  it("the PodMonitor selects the driver's and the sync controller's pods by the ports they declare", async () => {
    const objects = await kustomizeWithComponents(["monitoring", "sync-controller"])
    const selected = (
      objects.find((o) => o.kind === "PodMonitor")?.["spec"] as {
        selector: { matchExpressions: ReadonlyArray<{ values: ReadonlyArray<string> }> }
      }
    ).selector.matchExpressions[0]?.values
    for (const kind of ["DaemonSet", "Deployment"]) {
      const workload = objects.find((o) => o.kind === kind) as unknown as {
        spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: Array<any> } } }
      }
      expect(selected).toContain(workload.spec.template.metadata.labels["app"])
      const ports = workload.spec.template.spec.containers.flatMap((c) => c.ports ?? []).map((p: any) => p.name)
      expect(ports).toContain("metrics")
    }
  })

  it("promtool check rules passes", async () => {
    const { stdout } = await promtool("check", "rules", "rules.yaml")
    expect(stdout).toContain(`SUCCESS: ${rules.length} rules found`)
  })

  it("promtool test rules passes, and every alert has a test where it fires and one where it stays quiet", async () => {
    const { stdout } = await promtool("test", "rules", "rules.test.yaml")
    expect(stdout).toContain("SUCCESS")
    const cases = ruleTests.tests.flatMap((t) => t.alert_rule_test)
    for (const { alert } of rules) {
      const mine = cases.filter((c) => c.alertname === alert)
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${alert} never fires`
      ).toBe(true)
      // Quiet: an evaluation with no alert, or input series beside the firing one that do not fire.
      const quietSeries = ruleTests.tests.some(
        (t) =>
          t.alert_rule_test.some((c) => c.alertname === alert) &&
          (t.alert_rule_test.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length === 0) ||
            (t as unknown as { input_series: Array<unknown> }).input_series.length > 1)
      )
      expect(quietSeries, `${alert} is never tested quiet`).toBe(true)
    }
  })

  it("every alert has a severity, a summary, a description and a runbook link", () => {
    for (const rule of rules) {
      expect(rule.labels?.["severity"], rule.alert).toMatch(/^(warning|critical)$/)
      expect(rule.annotations["summary"], rule.alert).toBeTruthy()
      expect(rule.annotations["description"], rule.alert).toMatch(/runbook/)
      expect(rule.annotations["runbook_url"], rule.alert).toMatch(/README\.md#runbook-/)
    }
  })

  it("every runbook link is a heading of README's Runbook (a templated reason: each FailureReason's)", () => {
    const runbook = runbookAnchors()
    for (const rule of rules) {
      const anchor = /#(.*)$/.exec(rule.annotations["runbook_url"] ?? "")?.[1] ?? ""
      if (anchor === "runbook-{{ $labels.error_type | toLower }}") {
        expect(promqlRefs(rule.expr).labels, rule.alert).toContain("error_type")
        for (const reason of FailureReason.literals)
          expect(runbook, rule.alert).toContain(`runbook-${reason.toLowerCase()}`)
      } else {
        expect(runbook, rule.alert).toContain(anchor)
      }
    }
  })

  it("the anchor check is real: GitHub's rule on README's headings, and a misspelt anchor is not one", () => {
    expect(githubAnchor("Runbook: metrics endpoint down")).toBe("runbook-metrics-endpoint-down")
    expect(githubAnchor("Runbook: ServedStale")).toBe("runbook-servedstale")
    expect(githubAnchor("Reacting to rotation: `SecretRotated` Events and an opt-in rolling restart")).toBe(
      "reacting-to-rotation-secretrotated-events-and-an-opt-in-rolling-restart"
    )
    const runbook = runbookAnchors()
    expect(runbook).toContain("runbook-restartfailed")
    expect(runbook).not.toContain("runbook-restartfailure")
    expect(runbook).not.toContain("security-what-the-driver-refuses") // a heading, but not the Runbook's
  })

  it("promtool check rules fails on a rule naming an unknown function (the check is real)", async () => {
    const broken = join(mkdtempSync(join(tmpdir(), "rules-")), "broken.yaml")
    writeFileSync(broken, readFileSync(`${dir}/rules.yaml`, "utf8").replace("increase(", "increse("))
    await expect(promtool("check", "rules", broken)).rejects.toThrow(/increse/)
  })
})
