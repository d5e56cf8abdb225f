// What secret sync needs of a Pod (upstream §7.1 steps 1 and 3): whether it still runs, which CSI volume of this
// driver names the SPC, the CVE-2020-8568 target-path check, and the owners a synced Secret gets.
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import {
  group,
  OwnerReference,
  stripNulls,
  type SecretProviderClassPodStatus
} from "../domain/SecretProviderClass.js"
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
    volumes: Schema.optionalKey(Schema.Array(Schema.Struct({ name: Schema.String, csi: Schema.optionalKey(CsiVolume) })))
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
export const spcVolumes = (pod: Pod, driverName: string, spcName: string): ReadonlyArray<string> =>
  (pod.spec.volumes ?? [])
    .filter((v) => v.csi?.driver === driverName && v.csi.volumeAttributes?.["secretProviderClass"] === spcName)
    .map((v) => v.name)

const cleanAbsolute = (p: string): boolean =>
  p.startsWith("/") && !p.split("/").slice(1).some((e) => e === "" || e === "." || e === "..")

/**
 * CVE-2020-8568: the SPCPS says which directory to read; anyone who can edit it could point it at another pod's
 * volume. It must be `<kubelet root>/pods/<this pod's uid>/volumes/kubernetes.io~csi/<a volume of this pod that
 * mounts this SPC with this driver>/mount`. Stricter than upstream's unanchored regexes: the whole path is clean.
 */
export const checkTargetPath = (
  pod: Pod,
  status: SecretProviderClassPodStatus,
  driverName: string
): Result.Result<void, SecretSyncError> => {
  const podRef = `${pod.metadata.namespace}/${pod.metadata.name}`
  const spcps = `secretproviderclasspodstatus ${status.metadata.namespace}/${status.metadata.name}`
  const volumes = spcVolumes(pod, driverName, status.status.secretProviderClassName)
  const fail = (message: string) => Result.fail(new SecretSyncError({ reason: "InvalidRequest", message }))
  if (volumes.length === 0) {
    return fail(`pod ${podRef} has no ${driverName} volume for secretproviderclass ${status.status.secretProviderClassName} (${spcps})`)
  }
  const target = status.status.targetPath
  const matches = cleanAbsolute(target) && volumes.some((vol) =>
    target.endsWith(`/pods/${pod.metadata.uid}/volumes/kubernetes.io~csi/${vol}/mount`) &&
    target.length > `/pods/${pod.metadata.uid}/volumes/kubernetes.io~csi/${vol}/mount`.length
  )
  return matches
    ? Result.succeed(undefined)
    : fail(`${spcps} targetPath does not match the uid and secrets-store volume of pod ${podRef}`)
}

/**
 * The owners a synced Secret needs: the pod's own owners (e.g. its ReplicaSet), so the Secret outlives pod
 * restarts and rollouts (#899, #1770), or the SPCPS itself for a bare pod. Never `controller: true` (#2051).
 */
export const ownersFor = (pod: Pod, status: SecretProviderClassPodStatus): ReadonlyArray<OwnerReference> => {
  const own = (pod.metadata.ownerReferences ?? []).map(({ apiVersion, kind, name, uid }) => ({ apiVersion, kind, name, uid }))
  if (own.length > 0) return own
  const uid = status.metadata.uid
  return uid === undefined ? [] : [{
    apiVersion: `${group}/v1`,
    kind: "SecretProviderClassPodStatus",
    name: status.metadata.name,
    uid
  }]
}
