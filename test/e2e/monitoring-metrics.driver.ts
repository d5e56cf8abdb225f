// The driver's half of test/e2e/monitoring-metrics.test.ts: the built driver, the reference provider, a test
// provider and the fake API server, driven through every path that makes a series the dashboard or the rules name;
// returns the last scrape of /metrics.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { expect } from "vitest"
import { eventually, startProgram, waitForFile, type RunningProcess } from "../support/ChildProcess.js"
import { connectCsi, publishRequest } from "../support/CsiClient.js"
import { FakeApiServer } from "../support/FakeApiServer.js"
import { resourceByKind } from "../support/FakeApiStore.js"
import { mountsUnder, unmountAllUnder } from "../support/StressHarness.js"
import { makeTestProvider, type MountBehaviour, respondFiles } from "../support/TestProvider.js"
import { seedWorkloads } from "../support/Workloads.js"

const NS = "default"
const objects = { objects: "- objectName: db-password\n  fileName: password\n" }
// Restarts its pods' workloads on rotation; syncs a Secret.
const SPC = {
  apiVersion: "secrets-store.csi.x-k8s.io/v1",
  kind: "SecretProviderClass",
  metadata: { name: "db", namespace: NS, annotations: { "secrets-store.csi.k8s.io/restart-on-rotation": "true" } },
  spec: {
    provider: "reference",
    parameters: objects,
    secretObjects: [{ secretName: "db-credentials", type: "Opaque", data: [{ objectName: "password", key: "pw" }] }]
  }
}
// Node-cached, on the test provider: coalesced first publishes, then stale serves once the provider is dead.
const CACHED = {
  apiVersion: "secrets-store.csi.x-k8s.io/v1",
  kind: "SecretProviderClass",
  metadata: {
    name: "cached",
    namespace: NS,
    annotations: { "secrets-store.csi.k8s.io/node-cache-max-staleness": "1h" }
  },
  spec: { provider: "cache", parameters: objects }
}
const pod = (replicaSetUid: string) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: "web-1",
    namespace: NS,
    ownerReferences: [
      { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-5d8f", uid: replicaSetUid, controller: true }
    ]
  },
  spec: {
    nodeName: "node-a",
    volumes: [
      {
        name: "secrets",
        csi: { driver: "secrets-store.csi.k8s.io", readOnly: true, volumeAttributes: { secretProviderClass: "db" } }
      }
    ]
  },
  status: { phase: "Running" }
})

/** What the scrape must hold before it is taken: the series that appear only on their path. */
const WANTED = [
  "sync_k8s_secret_total{",
  "rotation_restart_total{",
  "provider_mount_total{",
  "provider_mount_error_total{",
  "provider_mount_duration_seconds_bucket{",
  "provider_mount_coalesced_total{",
  "provider_stale_served_total{",
  'provider_circuit_state{provider="cache"',
  'provider_health_check_status{provider="cache"'
]

/** A Mount answer held until `release()`. */
const gated = () => {
  let release!: () => void
  const opened = new Promise<void>((resolve) => (release = resolve))
  const behaviour: MountBehaviour = async (request, context) => {
    await opened
    return respondFiles([{ path: "password", contents: "pw-CACHED" }])(request, context)
  }
  return { behaviour, release }
}

export interface DriverRun {
  /** The last scrape, after a real unpublish. */
  readonly text: string
  readonly close: () => Promise<void>
}

export const runDriver = async (): Promise<DriverRun> => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "e2e-monitoring-")))
  const providers = path.join(dir, "providers")
  fs.mkdirSync(providers)
  const store = path.join(dir, "store.json")
  const setVersion = (n: number) =>
    fs.writeFileSync(store, JSON.stringify({ "db-password": { contents: `pw-${n}`, version: String(n) } }))
  setVersion(1)
  const api = await FakeApiServer.start()
  api.seed(SPC)
  api.seed(CACHED)
  seedWorkloads(api, NS)
  const rs = api.store.get(resourceByKind("ReplicaSet")!, NS, "web-5d8f")!
  const uid = String(api.seed(pod(String(rs.metadata["uid"]))).metadata["uid"])
  const scope = Effect.runSync(Scope.make())
  const cache = await Effect.runPromise(makeTestProvider({ dir: providers, name: "cache" }).pipe(Scope.provide(scope)))
  let provider: RunningProcess | undefined = startProgram("reference-provider/main.js", [
    `--provider-dir=${providers}`,
    `--store=${store}`
  ])
  await waitForFile(path.join(providers, "reference.sock"))
  const kubelet = path.join(dir, "kubelet")
  const driver = startProgram("main.js", [
    `--kubelet-root-dir=${kubelet}`,
    `--endpoint=unix://${dir}/csi.sock`,
    "--nodeid=node-a",
    "--metrics-addr=127.0.0.1:0",
    `--kubeconfig=${api.kubeconfigPath}`,
    `--provider-volume=${providers}`,
    "--enable-secret-rotation",
    "--rotation-poll-interval=0s",
    "--provider-timeout=10s",
    "--provider-health-check",
    "--provider-health-check-interval=1s",
    "--provider-circuit-threshold=1"
  ])
  const close = async () => {
    await driver.stop()
    await provider?.stop()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await api.stop()
    unmountAllUnder(dir)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const csi = connectCsi(`${dir}/csi.sock`)
  try {
    await eventually(() => csi.identity.probe({}), 20_000)
    const targetOf = (podUid: string) => {
      const target = path.join(kubelet, "pods", podUid, "volumes", "kubernetes.io~csi", "secrets", "mount")
      fs.mkdirSync(path.dirname(target), { recursive: true })
      return target
    }
    const publish = (spcName: string, podUid = uid, podName = "web-1") =>
      csi.node.nodePublishVolume(
        publishRequest({
          targetPath: targetOf(podUid),
          volumeContext: {
            ...publishRequest().volumeContext,
            secretProviderClass: spcName,
            "csi.storage.k8s.io/pod.name": podName,
            "csi.storage.k8s.io/pod.uid": podUid
          }
        })
      )
    const port = await eventually(() => {
      const found = /metrics server listening.*127\.0\.0\.1:(\d+)/.exec(driver.output())?.[1]
      if (found === undefined) throw new Error("no metrics address logged yet")
      return found
    })
    const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text()

    await publish("db")
    await expect(publish("no-such-class", "uid-9")).rejects.toThrow(/SecretProviderClassNotFound/)
    setVersion(2)
    await publish("db") // a rotation (the poll interval is 0) that restarts the Deployment behind the pod

    // Two first publishes of one cached key while the provider holds the first call: the second joins it. Each
    // publish mounts its tmpfs right before it asks; a round where the second still asked itself is done again.
    let round = 0
    await eventually(
      async () => {
        const gate = gated()
        cache.onMount(gate.behaviour)
        const before = cache.mountRequests().length
        const uids = [`c${round}-a`, `c${round++}-b`]
        const outcomes = Promise.all(uids.map((u) => publish("cached", u, `pod-${u}`)))
        try {
          await eventually(() => {
            expect(uids.every((u) => mountsUnder(targetOf(u)).length > 0)).toBe(true)
            expect(cache.mountRequests().length).toBeGreaterThan(before)
          }, 20_000)
        } finally {
          gate.release()
          await outcomes
        }
        expect(await scrape()).toContain("provider_mount_coalesced_total{")
      },
      60_000,
      0
    )
    // The test provider dies with its socket left behind: a first publish of the cached key is served stale, and
    // that outage opens the circuit (threshold 1); its health check fails.
    await Effect.runPromise(cache.crash)
    await publish("cached", "stale-1", "pod-stale-1")

    await provider.stop()
    provider = undefined
    await publish("db") // a masked republish failure: kubelet sees success
    await expect(csi.node.nodeUnpublishVolume({ volumeId: "v", targetPath: "relative" })).rejects.toThrow()
    // The secret sync and the restart run beside the publishes, the health check on its interval.
    await eventually(async () => {
      const text = await scrape()
      for (const wanted of WANTED) if (!text.includes(wanted)) throw new Error(`no ${wanted} yet`)
    }, 30_000)
    await csi.node.nodeUnpublishVolume({ volumeId: "v", targetPath: targetOf(uid) })
    return { text: await scrape(), close }
  } catch (error) {
    await close()
    throw error
  } finally {
    csi.close()
  }
}
