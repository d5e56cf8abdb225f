// From an SPC's `secretObjects` and the files mounted in the pod to the Secrets that should exist
// (docs/upstream.md#secret-sync-reconcile), with upstream's per-object validation: one bad entry is reported and
// skipped, the others still sync.
import * as Result from "effect/Result"
import type { SecretObject } from "../domain/SecretProviderClass.js"
import { type SecretSyncError, invalidSecretObject } from "./SyncError.js"
import { tlsPart, tlsSecretType } from "./TlsSecret.js"

/** Every Secret the driver creates carries it (docs/upstream.md#driver-labels). */
export const managedLabel = "secrets-store.csi.k8s.io/managed"

export interface DesiredSecret {
  readonly name: string
  readonly namespace: string
  readonly type: string
  /** Secret data: key -> base64 of the bytes. */
  readonly data: Readonly<Record<string, string>>
  readonly labels: Readonly<Record<string, string>>
  readonly annotations: Readonly<Record<string, string>>
}

export interface BuiltSecrets {
  readonly secrets: ReadonlyArray<DesiredSecret>
  readonly errors: ReadonlyArray<SecretSyncError>
}

/** A mounted file as `readTarget` returns it: path relative to the target -> bytes. */
export type MountedFiles = ReadonlyMap<string, { readonly contents: Uint8Array }>

const dataOf = (
  object: SecretObject,
  files: MountedFiles,
  where: string
): Result.Result<Record<string, string>, SecretSyncError> => {
  const data: Record<string, string> = {}
  for (const item of object.data ?? []) {
    const objectName = item.objectName.trim()
    const key = item.key.trim()
    if (objectName === "")
      return Result.fail(invalidSecretObject(`${where}: objectName in secretObjects.data is empty`))
    if (key === "") return Result.fail(invalidSecretObject(`${where}: key in secretObjects.data is empty`))
    const file = files.get(objectName)
    if (file === undefined) {
      return Result.fail(invalidSecretObject(`${where}: file matching objectName ${objectName} not found in the pod`))
    }
    let bytes = file.contents
    if (object.type === tlsSecretType) {
      const part = tlsPart(key, bytes, `${where} key ${key}`)
      if (Result.isFailure(part)) return Result.fail(part.failure)
      bytes = part.success
    }
    data[key] = Buffer.from(bytes).toString("base64")
  }
  return Result.succeed(data)
}

const build = (
  object: SecretObject,
  namespace: string,
  files: MountedFiles,
  spcRef: string
): Result.Result<DesiredSecret, SecretSyncError> => {
  const name = object.secretName.trim()
  const where = `secret ${namespace}/${name} of secretproviderclass ${spcRef}`
  if (name === "")
    return Result.fail(invalidSecretObject(`secretObjects of secretproviderclass ${spcRef}: secretName is empty`))
  if (object.type.trim() === "") return Result.fail(invalidSecretObject(`${where}: type is empty`))
  if ((object.data ?? []).length === 0) return Result.fail(invalidSecretObject(`${where}: data is empty`))
  return Result.map(dataOf(object, files, where), (data) => ({
    name,
    namespace,
    type: object.type,
    data,
    labels: { ...object.labels, [managedLabel]: "true" },
    annotations: { ...object.annotations }
  }))
}

/** The Secrets of `secretObjects` (in the SPC's namespace, which is the pod's) and the entries that failed. */
export const buildSecrets = (
  spc: { readonly namespace: string; readonly name: string },
  secretObjects: ReadonlyArray<SecretObject>,
  files: MountedFiles
): BuiltSecrets => {
  const secrets: Array<DesiredSecret> = []
  const errors: Array<SecretSyncError> = []
  for (const object of secretObjects) {
    const built = build(object, spc.namespace, files, `${spc.namespace}/${spc.name}`)
    if (Result.isSuccess(built)) secrets.push(built.success)
    else errors.push(built.failure)
  }
  return { secrets, errors }
}
