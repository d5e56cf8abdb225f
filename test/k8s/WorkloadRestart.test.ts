// The owner walk and the workload restart against the fake API server: one patch per digest, nothing when the
// template already carries it (another node did it), no patch over a rollout under way, the cooldown deferring to
// the latest digest, bounded retries of a failing patch, and a Warning for what cannot be restarted.
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Events, EventsInMemory } from "../../src/k8s/Events.js"
import { KubeApi } from "../../src/k8s/KubeApi.js"
import { findWorkload } from "../../src/k8s/WorkloadOwner.js"
import {
  type RestartRequest,
  type RestartResult,
  WorkloadRestart,
  type WorkloadRestartOptions
} from "../../src/k8s/WorkloadRestart.js"
import { eventually } from "../support/ChildProcess.js"
import { fakeApiServer, type FakeApiServer } from "../support/FakeApiServer.js"
import { patchesOf, type SeededPod, seedWorkloads, setStatus, workload } from "../support/Workloads.js"

const NS = "apps"

const kubeApi = (server: FakeApiServer) =>
  KubeApi.layer({ kubeconfig: server.kubeconfigPath }).pipe(
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({})))
  )

interface World {
  readonly server: FakeApiServer
  readonly pods: ReturnType<typeof seedWorkloads>
  readonly results: Array<string>
}

/** A live WorkloadRestart (short cooldown and retries) on a seeded fake API server, in-memory Events. */
const withRestart = <A, E>(
  options: Partial<WorkloadRestartOptions>,
  body: (world: World) => Effect.Effect<A, E, WorkloadRestart | EventsInMemory>
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const server = yield* fakeApiServer()
      const pods = seedWorkloads(server, NS)
      const results: Array<string> = []
      const onResult = (kind: string, result: RestartResult) =>
        Effect.sync(() => void results.push(`${kind} ${result}`))
      const layer = WorkloadRestart.layer({
        cooldown: "1 hour",
        onResult,
        retryBase: "5 millis",
        progressRecheck: "20 millis",
        ...options
      }).pipe(Layer.provideMerge(Events.layerInMemory), Layer.provide(kubeApi(server)))
      return yield* body({ server, pods, results }).pipe(Effect.provide(layer))
    })
  )

const request = (pod: SeededPod, digest: string): RestartRequest => ({ pod, spc: `${NS}/db`, digest })
const restart = (pod: SeededPod, digest: string) =>
  Effect.gen(function* () {
    yield* (yield* WorkloadRestart).restart(request(pod, digest))
  })
const until = <A>(check: () => A) => Effect.promise(() => eventually(check, 10_000, 10))
const warnings = Effect.gen(function* () {
  return yield* (yield* EventsInMemory).list
})

describe("findWorkload (the owner walk)", () => {
  it.live("follows controller references to the workload, or says why there is none", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const server = yield* fakeApiServer()
        const pods = seedWorkloads(server, NS)
        const found = yield* Effect.forEach(Object.values(pods), (pod) =>
          Effect.gen(function* () {
            return yield* findWorkload(yield* KubeApi, pod)
          })
        ).pipe(Effect.provide(kubeApi(server)))
        assert.deepStrictEqual(
          found.map((f) => (f._tag === "Workload" ? `${f.kind} ${f.name}` : `${f.kind}: ${f.why}`)),
          [
            "Deployment web",
            "Deployment web",
            "ReplicaSet: its ReplicaSet apps/lonely has no controlling Deployment: only Deployments, StatefulSets " +
              "and DaemonSets are restarted",
            "StatefulSet db",
            "DaemonSet agent",
            "Job: its controller is Job apps/batch: a Job is not restarted",
            "Pod: the pod has no controller: a bare pod is not restarted"
          ]
        )
      })
    )
  )
})

describe("WorkloadRestart.layer (live, fake API server)", () => {
  it.live("patches each workload once per digest; the same digest again, from any pod, patches nothing", () =>
    withRestart({}, ({ server, pods, results }) =>
      Effect.gen(function* () {
        yield* restart(pods.deployment, "d1")
        yield* restart(pods.statefulSet, "d1")
        yield* restart(pods.daemonSet, "d1")
        yield* until(() => assert.strictEqual(results.length, 3))
        assert.strictEqual(workload(server, "Deployment", NS, "web").annotation, "d1")
        assert.strictEqual(workload(server, "StatefulSet", NS, "db").annotation, "d1")
        assert.strictEqual(workload(server, "DaemonSet", NS, "agent").annotation, "d1")
        const [patch] = patchesOf(server, "deployments", NS, "web")
        assert.strictEqual(patch?.contentType, "application/merge-patch+json")
        assert.deepStrictEqual(patch?.body, {
          spec: { template: { metadata: { annotations: { "secrets-store.csi.k8s.io/restartedAt": "d1" } } } }
        })
        yield* restart(pods.deployment2, "d1")
        yield* until(() => assert.strictEqual(results.length, 4))
        assert.deepStrictEqual(results.sort(), [
          "DaemonSet restarted",
          "Deployment restarted",
          "Deployment unchanged",
          "StatefulSet restarted"
        ])
        assert.strictEqual(patchesOf(server, "deployments", NS, "web").length, 1)
      })
    )
  )

  it.live("a template already carrying the digest (another node's patch) is left as it is", () =>
    withRestart({}, ({ server, pods, results }) =>
      Effect.gen(function* () {
        yield* restart(pods.deployment, "d1")
        yield* until(() => assert.deepStrictEqual(results, ["Deployment restarted"]))
        const before = workload(server, "Deployment", NS, "web").resourceVersion
        // A second driver process: its own memory, the same API server.
        yield* withRestartOn(server, (other) => other.restart(request(pods.deployment2, "d1")), results)
        assert.deepStrictEqual(results, ["Deployment restarted", "Deployment unchanged"])
        assert.strictEqual(workload(server, "Deployment", NS, "web").resourceVersion, before)
        assert.strictEqual(patchesOf(server, "deployments", NS, "web").length, 1)
      })
    )
  )

  it.live("a rollout under way is not patched; it is once the rollout is done", () =>
    withRestart({}, ({ server, pods, results }) =>
      Effect.gen(function* () {
        setStatus(server, "StatefulSet", NS, "db", {
          observedGeneration: 1,
          currentRevision: "db-1",
          updateRevision: "db-2"
        })
        yield* restart(pods.statefulSet, "d1")
        yield* until(() => assert.include(results, "StatefulSet progressing"))
        assert.strictEqual(patchesOf(server, "statefulsets", NS, "db").length, 0)
        setStatus(server, "StatefulSet", NS, "db", {
          observedGeneration: 1,
          currentRevision: "db-2",
          updateRevision: "db-2"
        })
        yield* until(() => assert.include(results, "StatefulSet restarted"))
        // Counted once while it waited, however many times it looked.
        assert.deepStrictEqual(results, ["StatefulSet progressing", "StatefulSet restarted"])
        assert.strictEqual(workload(server, "StatefulSet", NS, "db").annotation, "d1")
      })
    )
  )

  it.live("a rotation inside the cooldown is deferred, then applied with the latest digest", () =>
    withRestart({ cooldown: "3 seconds" }, ({ server, pods, results }) =>
      Effect.gen(function* () {
        yield* restart(pods.deployment, "d1")
        yield* until(() => assert.deepStrictEqual(results, ["Deployment restarted"]))
        yield* restart(pods.deployment, "d2")
        yield* restart(pods.deployment2, "d3")
        yield* until(() =>
          assert.deepStrictEqual(results, ["Deployment restarted", "Deployment deferred", "Deployment deferred"])
        )
        assert.strictEqual(workload(server, "Deployment", NS, "web").annotation, "d1")
        yield* until(() => assert.strictEqual(workload(server, "Deployment", NS, "web").annotation, "d3"))
        yield* until(() => assert.strictEqual(results.at(-1), "Deployment restarted"))
        assert.strictEqual(patchesOf(server, "deployments", NS, "web").length, 2)
      })
    )
  )

  it.live("a failing patch is retried a bounded number of times, then a RestartFailed Warning", () =>
    withRestart({}, ({ server, pods, results }) =>
      Effect.gen(function* () {
        server.failNext({ method: "PATCH", status: 403, times: 100, message: "forbidden" })
        yield* restart(pods.daemonSet, "d1")
        yield* until(() => assert.deepStrictEqual(results, ["DaemonSet failed"]))
        assert.strictEqual(patchesOf(server, "daemonsets", NS, "agent").length, 5)
        const [warning] = yield* warnings
        assert.strictEqual(warning?.reason, "RestartFailed")
        assert.strictEqual(warning?.type, "Warning")
        assert.match(warning!.message, /^could not restart daemonset apps\/agent after SecretProviderClass apps\/db/)
        assert.include(warning!.message, "restart-on-rotation component's RBAC")
      })
    )
  )

  it.live("a bare pod, a Job's pod and a lone ReplicaSet's pod get a RestartSkipped Warning saying why", () =>
    withRestart({}, ({ server, pods, results }) =>
      Effect.gen(function* () {
        for (const pod of [pods.bare, pods.job, pods.replicaSet]) yield* restart(pod, "d1")
        yield* until(() => assert.strictEqual(results.length, 3))
        assert.deepStrictEqual(results.sort(), ["Job unsupported", "Pod unsupported", "ReplicaSet unsupported"])
        const list = yield* warnings
        assert.deepStrictEqual(list.map((w) => [w.pod.name, w.reason]).sort(), [
          ["bare", "RestartSkipped"],
          ["batch-zzz", "RestartSkipped"],
          ["lonely-ccccc", "RestartSkipped"]
        ])
        assert.include(list.find((w) => w.pod.name === "bare")!.message, "a bare pod is not restarted")
        assert.strictEqual(server.requestsMatching({ method: "PATCH" }).length, 0)
      })
    )
  )
})

/** A second, independent WorkloadRestart on the same server; waits until its one request has a result. */
const withRestartOn = (
  server: FakeApiServer,
  body: (restart: WorkloadRestart["Service"]) => Effect.Effect<void>,
  results: Array<string>
) =>
  Effect.gen(function* () {
    const before = results.length
    const onResult = (kind: string, result: RestartResult) => Effect.sync(() => void results.push(`${kind} ${result}`))
    yield* Effect.gen(function* () {
      yield* body(yield* WorkloadRestart)
    }).pipe(
      Effect.andThen(until(() => assert.strictEqual(results.length, before + 1))),
      Effect.provide(
        WorkloadRestart.layer({ cooldown: "1 hour", onResult }).pipe(
          Layer.provide(Events.layerInMemory),
          Layer.provide(kubeApi(server))
        )
      )
    )
  })
