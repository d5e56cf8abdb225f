// From a SecretSync and the SPC it names to the provider's Mount request, and from the provider's files to the
// Secret's data: upstream's request shape (the four pod keys, tokens keyed by audience, secrets "{}", permission
// "420", a dummy target path) and its data rule (`data[targetKey] = files[sourcePath]`, the TLS split).
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import type { SecretSync } from "../domain/SecretSync.js"
import { TOKENS_KEY } from "../domain/VolumeContext.js"
import type { MountRequest } from "../gen/provider/v1alpha1/service.js"
import { DEFAULT_PERMISSION, goJsonStringMap } from "../provider/MountRequestEncoding.js"
import type { ProviderFile } from "../domain/ProviderFile.js"
import { tlsPart, tlsSecretType } from "../sync/TlsSecret.js"
import { type SecretSyncFailure, syncFailure } from "./SyncFailure.js"

/** Nothing is written there: providers that write files themselves are not supported, as upstream. */
export const DUMMY_TARGET_PATH = "/mnt/secrets-store"

/** The controller's own pod, which upstream reports as the pod (downward-API env). */
export interface ControllerPod {
  readonly name: string
  readonly uid: string
}

export interface MountInput {
  readonly ss: SecretSync
  readonly parameters: Readonly<Record<string, string>>
  readonly pod: ControllerPod
  readonly tokens: Redacted.Redacted<string> | undefined
}

/** SPC parameters, then the reserved keys on top (they overwrite a parameter of the same name). */
export const mountRequest = ({ ss, parameters, pod, tokens }: MountInput): MountRequest => {
  const attributes: Record<string, string> = {
    ...parameters,
    "csi.storage.k8s.io/pod.name": pod.name,
    "csi.storage.k8s.io/pod.uid": pod.uid,
    "csi.storage.k8s.io/pod.namespace": ss.metadata.namespace,
    "csi.storage.k8s.io/serviceAccount.name": ss.spec.serviceAccountName
  }
  if (tokens !== undefined) attributes[TOKENS_KEY] = Redacted.value(tokens)
  return {
    attributes: goJsonStringMap(attributes),
    secrets: "{}",
    targetPath: DUMMY_TARGET_PATH,
    permission: DEFAULT_PERMISSION,
    currentObjectVersion: []
  }
}

const ssRef = (ss: SecretSync) => `secretsync ${ss.metadata.namespace}/${ss.metadata.name}`

/** Secret data (key -> base64) from the provider's files; a missing path or a bad TLS part fails, naming the key. */
export const secretData = (
  ss: SecretSync,
  files: ReadonlyArray<ProviderFile>
): Result.Result<Readonly<Record<string, string>>, SecretSyncFailure> => {
  const byPath = new Map(files.map((f) => [f.path, f.contents]))
  const type = ss.spec.secretObject.type
  const data: Record<string, string> = {}
  for (const item of ss.spec.secretObject.data) {
    const sourcePath = item.sourcePath.trim()
    const targetKey = item.targetKey.trim()
    if (sourcePath === "" || targetKey === "") {
      return Result.fail(
        syncFailure("InvalidRequest", "RemoteSecretStoreFetchFailed", `${ssRef(ss)}: empty sourcePath or targetKey`)
      )
    }
    const contents = byPath.get(sourcePath)
    if (contents === undefined) {
      return Result.fail(
        syncFailure(
          "InvalidRequest",
          "RemoteSecretStoreFetchFailed",
          `${ssRef(ss)}: file matching sourcePath ${sourcePath} not found in the provider's response`
        )
      )
    }
    let bytes = contents
    if (type === tlsSecretType) {
      const part = tlsPart(targetKey, contents, `${ssRef(ss)} key ${targetKey}`)
      if (Result.isFailure(part)) {
        return Result.fail(syncFailure("InvalidRequest", "RemoteSecretStoreFetchFailed", part.failure.message))
      }
      bytes = part.success
    }
    data[targetKey] = Buffer.from(bytes).toString("base64")
  }
  return Result.succeed(data)
}
