// The per-node secret sync controller (docs/upstream.md#secret-sync, docs/contract.md#secret-sync): this node's pod
// statuses, listed and watched, feed a work queue; a few workers reconcile keys (Reconciler.ts). Nothing of the
// cluster is cached; the workers, the watch and the resync timer are fibers of the layer's scope.
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { KubeApi } from "../k8s/KubeApi.js"
import type { KubernetesError } from "../k8s/KubernetesError.js"
import { SecretProviderClasses } from "../k8s/SecretProviderClasses.js"
import { Mounter } from "../mount/Mounter.js"
import { AtomicWriter } from "../writer/AtomicWriter.js"
import { listPodStatusKeys, watchPodStatuses } from "./PodStatusWatch.js"
import { makeReconcile, type SyncedInfo, type SyncFailureInfo } from "./Reconciler.js"
import { makeWorkQueue, type RetryBackoff } from "./WorkQueue.js"

export { forbiddenHint, type SyncedInfo, type SyncFailureInfo } from "./Reconciler.js"

export interface SecretSyncOptions {
  readonly nodeId: string
  /** `--drivername`: only this driver's CSI volumes count for the target-path check. */
  readonly driverName: string
  /** `--kubelet-root-dir`: a status' targetPath is read only if it is this pod's volume path under this root. */
  readonly kubeletRootDir: string
  /** Every status of the node is reconciled again this often (upstream: 5 minutes). */
  readonly resyncInterval?: Duration.Input
  /** Concurrent reconciles of different statuses (default 4). */
  readonly workers?: number
  /** After each Secret written or found up to date: for `sync_k8s_secret_total` / `_duration_sec`. */
  readonly onSynced?: (info: SyncedInfo) => Effect.Effect<void>
  /** Each failure of a pod's sync: for a Warning Event `FailedToCreateSecret` on the pod. */
  readonly onFailure?: (info: SyncFailureInfo) => Effect.Effect<void>
}

export interface SecretSyncShape {
  /** Queue every status of this node now, as the periodic resync does. */
  readonly resync: Effect.Effect<void, KubernetesError>
  /** Keys the controller currently remembers (queued, in progress, failing). */
  readonly trackedKeys: Effect.Effect<number>
}

// Upstream requeues a failed status after 5 s forever; doubling from 1 s to 2 minutes heals transient faults as
// fast and keeps a permanent one (an invalid SPC) from raising a Warning Event every 5 s.
const failedKeyBackoff: RetryBackoff = { base: Duration.seconds(1), max: Duration.minutes(2) }

export class SecretSync extends Context.Service<SecretSync, SecretSyncShape>()("SecretSync") {
  /** Reads the mounted volumes through the Mounter and AtomicWriter it is given (the publisher's own). */
  static readonly layer = (
    options: SecretSyncOptions
  ): Layer.Layer<SecretSync, never, KubeApi | Mounter | AtomicWriter> =>
    Layer.effect(SecretSync, make(options)).pipe(Layer.provide(SecretProviderClasses.layer))
}

const make = Effect.fnUntraced(function* (options: SecretSyncOptions) {
  const api = yield* KubeApi
  const queue = yield* makeWorkQueue(failedKeyBackoff)
  const reconcile = makeReconcile({
    api,
    classes: yield* SecretProviderClasses,
    mounter: yield* Mounter,
    writer: yield* AtomicWriter,
    nodeId: options.nodeId,
    driverName: options.driverName,
    kubeletRootDir: options.kubeletRootDir,
    onSynced: options.onSynced ?? (() => Effect.void),
    onFailure: options.onFailure ?? (() => Effect.void)
  })
  const worker = Effect.gen(function* () {
    const key = yield* queue.take
    const ok = yield* reconcile(key)
    yield* queue.done(key, !ok)
  }).pipe(Effect.forever)

  const resync = listPodStatusKeys(api, options.nodeId).pipe(
    Effect.flatMap(({ keys }) => Effect.forEach(keys, queue.add, { discard: true }))
  )
  const periodicResync = Effect.sleep(options.resyncInterval ?? "5 minutes").pipe(
    Effect.andThen(resync.pipe(Effect.catch((e) => Effect.logWarning(`secret sync resync: ${e.message}`)))),
    Effect.repeat(Schedule.forever)
  )

  for (let i = 0; i < Math.max(1, options.workers ?? 4); i++) yield* Effect.forkScoped(worker)
  yield* Effect.forkScoped(
    watchPodStatuses(api, {
      nodeId: options.nodeId,
      onChange: (key, deleted) => (deleted ? queue.forget(key) : queue.add(key))
    })
  )
  yield* Effect.forkScoped(periodicResync)
  return SecretSync.of({ resync, trackedKeys: queue.tracked })
})
