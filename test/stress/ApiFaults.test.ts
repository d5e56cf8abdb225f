// Kubernetes API faults (fake API server): 500s on the SPC reads (cold and warm SPC cache), a get slower than the
// per-call deadline, and 409 storms on the SecretProviderClassPodStatus update. Each failure is KubernetesApiError
// (UNAVAILABLE at the CSI edge), nothing stays mounted, and once the fault clears the publish succeeds with a correct
// SPCPS.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { Status } from "nice-grpc"
import { Events } from "../../src/k8s/Events.js"
import { KubeApi } from "../../src/k8s/KubeApi.js"
import { PodStatuses } from "../../src/k8s/PodStatuses.js"
import { WorkloadRestart } from "../../src/k8s/WorkloadRestart.js"
import { SecretProviderClasses } from "../../src/k8s/SecretProviderClasses.js"
import { Metrics } from "../../src/metrics/Metrics.js"
import { MounterInMemory, Mounter } from "../../src/mount/Mounter.js"
import { TargetLocks } from "../../src/mount/TargetLocks.js"
import { ProviderClient } from "../../src/provider/ProviderClient.js"
import { Publisher } from "../../src/publish/Publisher.js"
import { PublishedLayout } from "../../src/publish/PublishedLayout.js"
import { AtomicWriter } from "../../src/writer/AtomicWriter.js"
import { kubeletRoot, request, tempTarget } from "../publish/fixtures.js"
import { eventually } from "../support/ChildProcess.js"
import { outcomeOf, typedReasonOf } from "../support/CsiOutcome.js"
import { resourceByKind } from "../support/FakeApiStore.js"
import {
  kubeletPublish,
  mountsUnder,
  SPC_NAME,
  startStressNode,
  targetFor,
  type StressNode
} from "../support/StressHarness.js"
import { respondFiles } from "../support/TestProvider.js"

let node: StressNode
beforeAll(async () => {
  node = await startStressNode()
  node.provider.onMount(respondFiles([{ path: "a", contents: "alpha" }], [{ id: "secret/a", version: "7" }]))
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

const spcGet = new RegExp(`/secretproviderclasses/${SPC_NAME}$`)
/** The SPC get, the cluster-wide list and the watch of the driver's SPC cache. */
const anySpcRead = /\/secretproviderclasses(\/|$)/
const statusPath = (uid: string) => new RegExp(`/secretproviderclasspodstatuses/pod-${uid}-default-${SPC_NAME}$`)
const publish = (target: string, uid: string) =>
  outcomeOf(node.csi().node.nodePublishVolume(kubeletPublish(target, uid)))

const statusOf = (uid: string) =>
  node.api.store.get(resourceByKind("SecretProviderClassPodStatus")!, "default", `pod-${uid}-default-${SPC_NAME}`) as
    | {
        metadata: { labels?: Record<string, string>; ownerReferences?: Array<{ uid: string }> }
        status?: Record<string, unknown>
      }
    | undefined

const expectCorrectStatus = (uid: string, target: string) => {
  const status = statusOf(uid)
  expect(status?.metadata.labels?.["internal.secrets-store.csi.k8s.io/node-name"]).toBe("node-stress")
  expect(status?.metadata.ownerReferences?.map((o) => o.uid)).toEqual([uid])
  expect(status?.status).toMatchObject({
    mounted: true,
    targetPath: target,
    podName: `pod-${uid}`,
    objects: [{ id: "secret/a", version: "7" }]
  })
}

const expectApiFailure = (outcome: Awaited<ReturnType<typeof publish>>) => {
  expect(typedReasonOf(outcome), JSON.stringify(outcome)).toBe("KubernetesApiError")
  expect(outcome.ok ? undefined : outcome.code).toBe(Status.UNAVAILABLE)
}

describe("API server faults through the driver", () => {
  it("500s on all SPC reads (list, watch, get): KubernetesApiError (UNAVAILABLE), no mount; then success", async () => {
    // A fresh driver: its SPC cache (one list/watch, started by the first lookup) has not synced yet.
    await node.stopDriver()
    await node.startDriver()
    const target = targetFor(node.kubelet, "f500")
    node.api.failNext({ method: "GET", path: anySpcRead, status: 500, times: 1000, message: "etcd is sad" })
    for (let i = 0; i < 3; i++) {
      const outcome = await publish(target, "f500")
      expectApiFailure(outcome)
      expect(outcome.ok ? "" : outcome.details).toContain(`get secretproviderclass default/${SPC_NAME}`)
    }
    expect(mountsUnder(node.kubelet)).toEqual([])
    node.api.clearFaults()
    expect(await publish(target, "f500")).toEqual({ ok: true })
    expect(fs.readFileSync(path.join(target, "a"), "utf8")).toBe("alpha")
    expectCorrectStatus("f500", target)
  }, 60_000)

  it("once the SPC cache has synced, 500s on SPC reads do not fail a publish (the informer's point)", async () => {
    const warm = targetFor(node.kubelet, "warm")
    await eventually(async () => expect(await publish(warm, "warm")).toEqual({ ok: true }), 20_000, 200)
    // The cache is synced once a publish no longer needs its own GET of the SPC.
    await eventually(
      async () => {
        const gets = node.api.requestsMatching({ method: "GET", path: spcGet }).length
        expect(await publish(warm, "warm")).toEqual({ ok: true })
        expect(node.api.requestsMatching({ method: "GET", path: spcGet })).toHaveLength(gets)
      },
      20_000,
      200
    )
    node.api.failNext({ method: "GET", path: anySpcRead, status: 500, times: 1000 })
    const target = targetFor(node.kubelet, "cached")
    expect(await publish(target, "cached")).toEqual({ ok: true })
    node.api.clearFaults()
    expectCorrectStatus("cached", target)
  }, 60_000)

  it("a 409 storm shorter than the retries: the publish succeeds, a correct SPCPS, foreign labels kept", async () => {
    const uid = "storm-short"
    const target = targetFor(node.kubelet, uid)
    node.api.seed({
      apiVersion: "secrets-store.csi.x-k8s.io/v1",
      kind: "SecretProviderClassPodStatus",
      metadata: { name: `pod-${uid}-default-${SPC_NAME}`, namespace: "default", labels: { team: "blue" } },
      status: { podName: "stale", mounted: false, objects: [{ id: "old", version: "0" }] }
    })
    node.api.failNext({ method: "PUT", path: statusPath(uid), status: 409, reason: "Conflict", times: 3 })
    expect(await publish(target, uid)).toEqual({ ok: true })
    expect(node.api.requestsMatching({ method: "PUT", path: statusPath(uid) })).toHaveLength(4)
    expectCorrectStatus(uid, target)
    expect(statusOf(uid)?.metadata.labels?.["team"]).toBe("blue")
  }, 60_000)

  it("a 409 storm longer than the retries: KubernetesApiError, no mount; then success, a correct SPCPS", async () => {
    const uid = "storm-long"
    const target = targetFor(node.kubelet, uid)
    node.api.seed({
      apiVersion: "secrets-store.csi.x-k8s.io/v1",
      kind: "SecretProviderClassPodStatus",
      metadata: { name: `pod-${uid}-default-${SPC_NAME}`, namespace: "default" },
      status: { podName: "stale", mounted: false }
    })
    node.api.failNext({ method: "PUT", path: statusPath(uid), status: 409, reason: "Conflict", times: 1000 })
    expectApiFailure(await publish(target, uid))
    expect(mountsUnder(node.kubelet).map((m) => m.mountPoint)).not.toContain(target)
    node.api.clearFaults()
    expect(await publish(target, uid)).toEqual({ ok: true })
    expectCorrectStatus(uid, target)
  }, 60_000)

  it("on a republish, a 409 storm is not kubelet's problem: OK, files intact, SPCPS corrected afterwards", async () => {
    const uid = "storm-republish"
    const target = targetFor(node.kubelet, uid)
    expect(await publish(target, uid)).toEqual({ ok: true })
    node.api.failNext({ method: "PUT", path: statusPath(uid), status: 409, reason: "Conflict", times: 1000 })
    expect(await publish(target, uid)).toEqual({ ok: true })
    expect(fs.readFileSync(path.join(target, "a"), "utf8")).toBe("alpha")
    node.api.clearFaults()
    expect(await publish(target, uid)).toEqual({ ok: true })
    expectCorrectStatus(uid, target)
  }, 60_000)
})

// The driver builds KubeApi with its default 10 s deadline and has no flag for it, so the deadline is tested
// on the Publisher with the real Kubernetes layers and a short one (mounter and writer in memory).
describe("an API server slower than the per-call deadline (Publisher on real Kubernetes layers)", () => {
  it.live(
    "KubernetesApiError 'timed out' well before the server answers; success once it is fast again",
    () =>
      Effect.gen(function* () {
        const options = {
          nodeId: "node-a",
          kubeletRoot,
          enableSecretRotation: true,
          rotationPollInterval: Duration.zero
        }
        const layer = Publisher.layer(options).pipe(
          Layer.provideMerge(
            Layer.mergeAll(
              Mounter.layerInMemory,
              TargetLocks.layer,
              PublishedLayout.layerInMemory.pipe(Layer.provideMerge(AtomicWriter.layerInMemory)),
              SecretProviderClasses.layer,
              PodStatuses.layer,
              Events.layerInMemory,
              WorkloadRestart.layerInMemory,
              Metrics.layer,
              ProviderClient.layer({
                providerDirs: [node.provider.dir],
                maxCallRecvMsgSize: 4 * 1024 * 1024,
                maxProviderFiles: 10_000,
                providerTimeout: Duration.seconds(5),
                healthCheck: false,
                healthCheckInterval: Duration.minutes(2)
              })
            ).pipe(Layer.provide(KubeApi.layer({ kubeconfig: node.api.kubeconfigPath, timeout: Duration.millis(300) })))
          )
        )
        const target = tempTarget()
        const req = yield* request(target, { volumeContext: kubeletPublish(target, "slow").volumeContext })
        yield* Effect.gen(function* () {
          const publisher = yield* Publisher
          node.api.delay(8000, { method: "GET", path: anySpcRead })
          const started = Date.now()
          const exit = yield* Effect.exit(publisher.publish(req))
          const elapsed = Date.now() - started
          node.api.clearFaults()
          expect(Exit.isFailure(exit)).toBe(true)
          const failure = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
          expect(failure?._tag === "Some" ? failure.value : undefined).toMatchObject({
            reason: "KubernetesApiError",
            message: expect.stringMatching(/get secretproviderclass default\/stress-spc, error: timed out after/)
          })
          expect(elapsed).toBeLessThan(7000)
          expect([...(yield* (yield* MounterInMemory).mounted)]).toEqual([])
          yield* publisher.publish(req)
          expect([...(yield* (yield* MounterInMemory).mounted)]).toEqual([path.resolve(target)])
        }).pipe(Effect.provide(layer))
      }),
    60_000
  )
})
