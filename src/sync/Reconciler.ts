// One reconcile of secret sync (docs/upstream.md#secret-sync-reconcile) for a SecretProviderClassPodStatus key: the
// status, its SPC (watch cache) and pod (a fresh GET), the target path check, the mounted files, each Secret created
// or patched, every failure reported to the callbacks. Returns whether the key is done or must be retried.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type { TypedFailure } from "../domain/FailureReason.js"
import {
  decodeSecretProviderClassPodStatus,
  nodeNameLabel,
  type SecretObject,
  type SecretProviderClass,
  type SecretProviderClassPodStatus
} from "../domain/SecretProviderClass.js"
import type { VolumeTarget } from "../domain/VolumeTarget.js"
import type { KubeApiShape } from "../k8s/KubeApi.js"
import { isNotFound, KubernetesError } from "../k8s/KubernetesError.js"
import { podStatusesPath } from "../k8s/PodStatuses.js"
import type { SecretProviderClassesShape } from "../k8s/SecretProviderClasses.js"
import type { MounterShape } from "../mount/Mounter.js"
import { checkConfinement } from "../mount/TargetConfinement.js"
import { errnoCode } from "../platform/errno.js"
import type { AtomicWriterShape } from "../writer/AtomicWriter.js"
import { checkTargetPath, decodePod, isFinished, ownersFor, type Pod } from "./PodView.js"
import { buildSecrets, type DesiredSecret } from "./SecretBuilder.js"
import { type SecretOutcome, upsertSecret } from "./SyncedSecrets.js"
import { SecretSyncError } from "./SyncError.js"

export interface SyncedInfo {
  readonly provider: string
  readonly seconds: number
  /** `namespace/name` of the Secret. */
  readonly secret: string
  readonly outcome: SecretOutcome
}

export interface SyncFailureInfo {
  readonly pod: { readonly name: string; readonly namespace: string; readonly uid: string }
  readonly reason: TypedFailure["reason"]
  readonly message: string
}

export interface ReconcilerDeps {
  readonly api: KubeApiShape
  readonly classes: SecretProviderClassesShape
  /** Tells whether a target is a tmpfs mount point, and on which device. */
  readonly mounter: Pick<MounterShape, "tmpfsDevice">
  /** Reads the mounted files, only from that device. */
  readonly writer: Pick<AtomicWriterShape, "read">
  readonly nodeId: string
  readonly driverName: string
  /** `--kubelet-root-dir`: the only tree a target path may lie in. */
  readonly kubeletRootDir: string
  readonly onSynced: (info: SyncedInfo) => Effect.Effect<void>
  readonly onFailure: (info: SyncFailureInfo) => Effect.Effect<void>
}

/** Upstream's hint for a 403 on Secrets: the opt-in RBAC that lets the driver write them is missing. */
export const forbiddenHint =
  "ensure the secret-sync RBAC is installed " +
  "(the secret-sync component of the manifests, or syncSecret.enabled=true in Helm)"

const podPath = (namespace: string, name: string) =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`

const undecodable = (what: string, cause: unknown) =>
  new KubernetesError({
    reason: "KubernetesApiError",
    message: `failed to get ${what}, error: the object does not decode`,
    cause
  })

/** GET and decode; a 404 is `undefined` (the object is gone: nothing to do). */
const getOptional = <A>(
  api: KubeApiShape,
  path: string,
  what: string,
  decode: (u: unknown) => Effect.Effect<A, unknown>
) =>
  api.request({ method: "GET", path, description: `get ${what}` }).pipe(
    Effect.flatMap((body) => Effect.mapError(decode(body), (cause) => undecodable(what, cause))),
    Effect.catchIf(
      (e) => e instanceof KubernetesError && isNotFound(e),
      () => Effect.succeed(undefined)
    )
  )

const withHint = (e: KubernetesError): KubernetesError | SecretSyncError =>
  e.status === 403
    ? new SecretSyncError({ reason: "KubernetesApiError", message: `${e.message}; ${forbiddenHint}` })
    : e

const upsertOne = (
  deps: ReconcilerDeps,
  secret: DesiredSecret,
  spc: SecretProviderClass,
  pod: Pod,
  status: SecretProviderClassPodStatus
) =>
  upsertSecret(deps.api, secret, ownersFor(pod, status)).pipe(
    Effect.timed,
    Effect.flatMap(([took, outcome]) =>
      deps.onSynced({
        provider: spc.spec.provider ?? "",
        seconds: Duration.toMillis(took) / 1000,
        secret: `${secret.namespace}/${secret.name}`,
        outcome
      })
    ),
    Effect.mapError(withHint)
  )

const notOurVolume = (status: SecretProviderClassPodStatus, why: string) =>
  new SecretSyncError({
    reason: "InvalidRequest",
    message: `secretproviderclasspodstatus ${status.metadata.namespace}/${status.metadata.name} targetPath ${why}`
  })

/**
 * The filesystem half of the path rule, beyond upstream: no element below the kubelet root is a symlink, and the
 * path itself (not followed) is a tmpfs mount point, which only the driver makes there. Its device is what the
 * reader then insists every file comes from, so swapping an element for a link after this check reads nothing.
 */
const requireVolumeMount = (
  mounter: ReconcilerDeps["mounter"],
  status: SecretProviderClassPodStatus,
  target: VolumeTarget
) =>
  Effect.gen(function* () {
    const confinement = yield* Effect.tryPromise({
      try: () => checkConfinement(target),
      catch: (cause) => notOurVolume(status, `cannot be checked: ${errnoCode(cause) ?? "unexpected error"}`)
    })
    if (confinement._tag === "Refused") return yield* notOurVolume(status, `is refused: ${confinement.why}`)
    const device = yield* mounter.tmpfsDevice(target.path)
    if (Option.isNone(device)) return yield* notOurVolume(status, "is not a mounted secrets-store volume")
    return device.value
  })

/** Steps 2-7 for a running pod: the failures to report (none = synced). */
const syncPod = (
  deps: ReconcilerDeps,
  status: SecretProviderClassPodStatus,
  pod: Pod,
  spc: SecretProviderClass,
  objects: ReadonlyArray<SecretObject>
) =>
  Effect.gen(function* () {
    const target = yield* Effect.fromResult(checkTargetPath(pod, status, deps.driverName, deps.kubeletRootDir))
    const device = yield* requireVolumeMount(deps.mounter, status, target)
    const files = yield* deps.writer.read(target.path, { device })
    const built = buildSecrets(spc.metadata, objects, files)
    const written = yield* Effect.forEach(built.secrets, (s) => Effect.result(upsertOne(deps, s, spc, pod, status)))
    return [...built.errors, ...written.filter(Result.isFailure).map((r) => r.failure)]
  }).pipe(Effect.catch((e): Effect.Effect<ReadonlyArray<TypedFailure>> => Effect.succeed([e])))

const report = (deps: ReconcilerDeps, pod: Pod, failures: ReadonlyArray<TypedFailure>) =>
  Effect.forEach(
    failures,
    (f) =>
      Effect.logWarning(`secret sync of pod ${pod.metadata.namespace}/${pod.metadata.name}: ${f.message}`).pipe(
        Effect.andThen(
          deps.onFailure({
            pod: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid },
            reason: f.reason,
            message: f.message
          })
        )
      ),
    { discard: true }
  )

/** The reconcile of one `namespace/name` key: true when done (synced, or nothing to do), false to retry later. */
export const makeReconcile = (deps: ReconcilerDeps) =>
  Effect.fn("SecretSync.reconcile")(
    function* (key: string) {
      const [namespace = "", name = ""] = key.split("/")
      yield* Effect.annotateCurrentSpan({ podStatus: key })
      const status = yield* getOptional(
        deps.api,
        podStatusesPath(namespace, name),
        `secretproviderclasspodstatus ${key}`,
        decodeSecretProviderClassPodStatus
      )
      // Gone, or moved to another node (a StatefulSet pod rescheduled): not ours to sync.
      if (status?.metadata.labels?.[nodeNameLabel]?.toLowerCase() !== deps.nodeId.toLowerCase()) return true
      // The SPC first: it comes from the watch cache, and most classes sync nothing, which then costs no pod GET.
      const spc = yield* deps.classes
        .get(namespace, status.status.secretProviderClassName)
        .pipe(Effect.catchIf(isNotFound, () => Effect.succeed(undefined)))
      const objects = spc?.spec.secretObjects ?? []
      if (spc === undefined || objects.length === 0) return true
      const podName = status.status.podName
      const pod = yield* getOptional(deps.api, podPath(namespace, podName), `pod ${namespace}/${podName}`, decodePod)
      if (pod === undefined || isFinished(pod)) return true
      const failures = yield* syncPod(deps, status, pod, spc, objects)
      yield* report(deps, pod, failures)
      return failures.length === 0
    },
    (effect, key) =>
      effect.pipe(
        Effect.tapError((e) => Effect.logWarning(`secret sync of ${key}: ${e.message}`)),
        Effect.catchDefect((defect) => Effect.logError(`secret sync of ${key} failed unexpectedly`, defect)),
        Effect.map((ok) => ok === true),
        Effect.orElseSucceed(() => false)
      )
  )
