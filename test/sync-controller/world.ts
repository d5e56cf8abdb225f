// A cluster for the sync controller's end-to-end tests: the fake API server, the built reference provider and the
// built controller as child processes, a store file to edit, and readers of Secrets, SecretSyncs, Events, metrics.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { eventually, type RunningProcess, startProgram, waitForFile } from "../support/ChildProcess.js"
import { FakeApiServer, type KubeObject } from "../support/FakeApiServer.js"
import { resourceByKind } from "../support/FakeApiStore.js"

export const ns = "apps"
export const storeYaml = (password: string, extra = "") =>
  `db-username:\n  contents: app\n  version: "1"\n` +
  `db-password:\n  contents: ${password}\n  version: "${password}"\n${extra}`

export const spc = (
  objects = "- objectName: db-username\n  fileName: username\n- objectName: db-password\n  fileName: password\n"
) => ({
  apiVersion: "secrets-store.csi.x-k8s.io/v1",
  kind: "SecretProviderClass",
  metadata: { name: "ref", namespace: ns },
  spec: { provider: "reference", parameters: { objects } }
})

export const secretSync = (
  name: string,
  spec: Record<string, unknown> = {},
  metadata: Record<string, unknown> = {}
) => ({
  apiVersion: "secret-sync.x-k8s.io/v1alpha1",
  kind: "SecretSync",
  metadata: { name, namespace: ns, ...metadata },
  spec: {
    secretProviderClassName: "ref",
    serviceAccountName: "app",
    secretObject: {
      type: "Opaque",
      labels: { team: "payments" },
      data: [
        { sourcePath: "username", targetKey: "user" },
        { sourcePath: "password", targetKey: "pass" }
      ]
    },
    ...spec
  }
})

export interface World {
  readonly api: FakeApiServer
  readonly dir: string
  readonly storePath: string
  provider: RunningProcess
  readonly controllers: Array<RunningProcess>
  readonly startProvider: () => Promise<RunningProcess>
  readonly startController: (extra?: ReadonlyArray<string>) => Promise<RunningProcess>
  readonly close: () => Promise<void>
}

const r = (kind: string) => resourceByKind(kind)!

export const getObject = (api: FakeApiServer, kind: string, name: string) => api.store.get(r(kind), ns, name)
export const secretOf = (api: FakeApiServer, name: string) => getObject(api, "Secret", name)
export const decodedData = (secret: KubeObject | undefined) =>
  Object.fromEntries(
    Object.entries((secret?.["data"] ?? {}) as Record<string, string>).map(([k, v]) => [
      k,
      Buffer.from(v, "base64").toString()
    ])
  )
export const conditionOf = (api: FakeApiServer, name: string, type: string) =>
  (
    (getObject(api, "SecretSync", name)?.["status"] as { conditions?: Array<Record<string, string>> } | undefined)
      ?.conditions ?? []
  ).find((c) => c["type"] === type)
export const eventsFor = (api: FakeApiServer, name: string) =>
  api.store.list(r("Event"), ns).filter((e) => (e["involvedObject"] as { name?: string; kind?: string }).name === name)

/** Replace the SecretSync's spec (or metadata) as `kubectl apply` would: the generation moves with the spec. */
export const editObject = (api: FakeApiServer, kind: string, name: string, edit: (o: KubeObject) => KubeObject) => {
  const current = getObject(api, kind, name)!
  return api.store.replace(r(kind), current, edit(structuredClone(current)))
}

/** Scrapes the controller's /metrics; the port comes from its log line. */
export const metricsOf = async (controller: RunningProcess): Promise<string> => {
  const port = await eventually(() => {
    const match = /metrics server listening.*?:(\d+)/.exec(controller.output())
    if (match === null) throw new Error("no metrics line yet")
    return match[1]
  })
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
}

/** The sum of a metric's samples whose label text contains every fragment. */
export const metricSum = (text: string, name: string, ...fragments: ReadonlyArray<string>) =>
  text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => fragments.every((f) => l.includes(f)))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0)

export const providerCalls = async (controller: RunningProcess) =>
  metricSum(await metricsOf(controller), "secretsync_provider_call_total")

export const startWorld = async (): Promise<World> => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "sync-controller-")))
  const storePath = path.join(dir, "store.yaml")
  fs.writeFileSync(storePath, storeYaml("pw1"))
  const providers = path.join(dir, "providers")
  fs.mkdirSync(providers)
  const api = await FakeApiServer.start()
  api.seed({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "app", namespace: ns } })
  const controllers: Array<RunningProcess> = []
  const startProvider = async () => {
    fs.rmSync(path.join(providers, "reference.sock"), { force: true })
    const p = startProgram("reference-provider/main.js", [
      "--provider-dir",
      providers,
      "--name",
      "reference",
      "--store",
      storePath
    ])
    await waitForFile(path.join(providers, "reference.sock"), 20_000)
    return p
  }
  const world: World = {
    api,
    dir,
    storePath,
    controllers,
    provider: await startProvider(),
    startProvider,
    startController: async (extra = []) => {
      const c = startProgram(
        "sync-controller/main.js",
        [
          `--kubeconfig=${api.kubeconfigPath}`,
          `--provider-volume=${providers}`,
          "--metrics-bind-address=127.0.0.1:0",
          "--health-probe-bind-address=127.0.0.1:0",
          "--rotation-poll-interval=0",
          "--secret-reapply-interval=1s",
          "--provider-timeout=20s",
          "--token-request-audience=aud-all, reference=aud-ref, other=aud-other",
          ...extra
        ],
        {
          SYNC_CONTROLLER_POD_NAME: "ssc-0",
          SYNC_CONTROLLER_POD_UID: "ssc-uid",
          SYNC_CONTROLLER_POD_NAMESPACE: "kube-system"
        }
      )
      controllers.push(c)
      await eventually(() => {
        if (!/sync controller started|attempting to acquire/.test(c.output())) {
          throw new Error(`not started: ${c.output()}`)
        }
      }, 20_000)
      return c
    },
    close: async () => {
      await Promise.all(controllers.map((c) => c.stop()))
      await world.provider.stop()
      await api.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  return world
}
