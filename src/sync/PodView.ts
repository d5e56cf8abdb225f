// What secret sync needs of a Pod (docs/upstream.md#sync-target-path-check): whether it still runs, which CSI volume of
// this driver names the SPC, the CVE-2020-8568 target-path rule (which pod, which exact path), and a Secret's owners.
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { group, OwnerReference, stripNulls, type SecretProviderClassPodStatus } from "../domain/SecretProviderClass.js"
import { parseVolumeTarget, type VolumeTarget, volumeTargetPath } from "../domain/VolumeTarget.js"
import { SecretSyncError } from "./SyncError.js"

const CsiVolume = Schema.Struct({
  driver: Schema.String,
  volumeAttributes: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})

export const Pod = Schema.Struct({
  metadata: Schema.Struct({
    name: Schema.String,
    namespace: Schema.String,
    uid: Schema.String,
    deletionTimestamp: Schema.optionalKey(Schema.String),
    ownerReferences: Schema.optionalKey(Schema.Array(OwnerReference))
  }),
  spec: Schema.Struct({
    volumes: Schema.optionalKey(
      Schema.Array(Schema.Struct({ name: Schema.String, csi: Schema.optionalKey(CsiVolume) }))
    )
  }).pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  status: Schema.Struct({ phase: Schema.optionalKey(Schema.String) }).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed({}))
  )
})
export type Pod = typeof Pod.Type

const decode = Schema.decodeUnknownEffect(Pod)
export const decodePod = (u: unknown) => decode(stripNulls(u))

/** A pod being deleted or finished needs no Secret any more (upstream: done, no requeue). */
export const isFinished = (pod: Pod): boolean =>
  pod.metadata.deletionTimestamp !== undefined || pod.status.phase === "Succeeded" || pod.status.phase === "Failed"

/** Names of the pod's CSI volumes served by `driverName` that mount SPC `spcName`. */
const spcVolumes = (pod: Pod, driverName: string, spcName: string): ReadonlyArray<string> =>
  (pod.spec.volumes ?? [])
    .filter((v) => v.csi?.driver === driverName && v.csi.volumeAttributes?.["secretProviderClass"] === spcName)
    .map((v) => v.name)

/** Whether the status names this pod: its namespace, `status.podName`, and an owner reference to the pod's UID. */
const namesPod = (pod: Pod, status: SecretProviderClassPodStatus): boolean =>
  status.metadata.namespace === pod.metadata.namespace &&
  status.status.podName === pod.metadata.name &&
  (status.metadata.ownerReferences ?? []).some(
    (o) => o.kind === "Pod" && o.apiVersion === "v1" && o.name === pod.metadata.name && o.uid === pod.metadata.uid
  )

/**
 * CVE-2020-8568: the SPCPS says which directory to read; anyone who can edit it could point it at another pod's
 * volume. The status must name this pod (namespace, name, owner reference with its UID) and its targetPath must be
 * exactly `<kubelet root>/pods/<this pod's uid>/volumes/kubernetes.io~csi/<a volume of this pod that mounts this SPC
 * with this driver>/mount`: stricter than upstream's unanchored regexes, so a look-alike of that path inside a
 * directory the pod controls (an emptyDir) does not match. The filesystem half (no symlink below the root, a tmpfs
 * mount point) is the reconciler's.
 */
export const checkTargetPath = (
  pod: Pod,
  status: SecretProviderClassPodStatus,
  driverName: string,
  kubeletRootDir: string
): Result.Result<VolumeTarget, SecretSyncError> => {
  const podRef = `${pod.metadata.namespace}/${pod.metadata.name}`
  const spcps = `secretproviderclasspodstatus ${status.metadata.namespace}/${status.metadata.name}`
  const volumes = spcVolumes(pod, driverName, status.status.secretProviderClassName)
  const fail = (message: string) => Result.fail(new SecretSyncError({ reason: "InvalidRequest", message }))
  if (!namesPod(pod, status)) return fail(`${spcps} does not belong to pod ${podRef} (name, namespace or owner uid)`)
  if (volumes.length === 0) {
    return fail(
      `pod ${podRef} has no ${driverName} volume ` +
        `for secretproviderclass ${status.status.secretProviderClassName} (${spcps})`
    )
  }
  const target = status.status.targetPath
  const parsed = parseVolumeTarget(kubeletRootDir, target)
  const matches =
    typeof parsed !== "string" &&
    parsed.path === target &&
    volumes.some((vol) => volumeTargetPath(parsed.kubeletRoot, pod.metadata.uid, vol) === target)
  return matches
    ? Result.succeed(parsed)
    : fail(
        `${spcps} targetPath is not the path of a secrets-store volume of pod ${podRef}` +
          ` under the kubelet root ${kubeletRootDir}`
      )
}

/**
 * The owners a synced Secret needs: the pod's own owners (e.g. its ReplicaSet), so the Secret outlives pod
 * restarts and rollouts (#899, #1770), or the SPCPS itself for a bare pod. Never `controller: true` (#2051).
 */
export const ownersFor = (pod: Pod, status: SecretProviderClassPodStatus): ReadonlyArray<OwnerReference> => {
  const own = (pod.metadata.ownerReferences ?? []).map(({ apiVersion, kind, name, uid }) => ({
    apiVersion,
    kind,
    name,
    uid
  }))
  if (own.length > 0) return own
  const uid = status.metadata.uid
  return uid === undefined
    ? []
    : [
        {
          apiVersion: `${group}/v1`,
          kind: "SecretProviderClassPodStatus",
          name: status.metadata.name,
          uid
        }
      ]
}
