// The Secret a SecretSync owns, and writing it by server-side apply (field manager secrets-store-sync-controller),
// never reading Secrets (RBAC gives create and patch only). Force rule: an apply that conflicts with another
// field manager (a hand edit) is repeated with force only for the Secret this process last applied successfully,
// and then with that Secret's uid as a precondition: a Secret deleted and re-created by someone else has a new
// uid, so the forced apply fails and a foreign Secret is never taken over.
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { reservedKey, type SecretSync, syncApiVersion } from "../domain/SecretSync.js"
import type { KubeApiShape } from "../k8s/KubeApi.js"
import { isConflict, type KubernetesError } from "../k8s/KubernetesError.js"
import { asRecord } from "../k8s/KubeResponses.js"
import { secretsPath } from "../sync/SyncedSecrets.js"
import { fromTyped, type SecretSyncFailure } from "./SyncFailure.js"

export const FIELD_MANAGER = "secrets-store-sync-controller"
export const APPLY_CONTENT_TYPE = "application/apply-patch+yaml"

/** What an apply wrote: the Secret's identity, never its contents. */
export interface ApplyResult {
  readonly uid: string
  readonly resourceVersion: string
}

/** The applied configuration; Redacted because it carries the data. */
export type SecretBody = Redacted.Redacted<Readonly<Record<string, unknown>>>

/** Upstream's shape: name and namespace of the SecretSync, one owner reference (no controller flag), our label. */
export const desiredSecret = (ss: SecretSync, data: Readonly<Record<string, string>>): SecretBody => {
  const object = ss.spec.secretObject
  return Redacted.make({
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: ss.metadata.name.trim(),
      namespace: ss.metadata.namespace,
      labels: { ...object.labels, [reservedKey]: "" },
      ...(object.annotations === undefined || Object.keys(object.annotations).length === 0
        ? {}
        : { annotations: object.annotations }),
      ownerReferences: [
        {
          apiVersion: syncApiVersion,
          kind: "SecretSync",
          name: ss.metadata.name,
          uid: ss.metadata.uid
        }
      ]
    },
    type: object.type === "" ? "Opaque" : object.type,
    data
  })
}

const nameOf = (body: SecretBody) => {
  const meta = asRecord(Redacted.value(body)["metadata"])
  return { name: String(meta["name"]), namespace: String(meta["namespace"]) }
}

const applyOnce = (api: KubeApiShape, body: SecretBody, force: { readonly uid: string } | undefined) => {
  const { name, namespace } = nameOf(body)
  const value = Redacted.value(body)
  const sent = force === undefined ? value : { ...value, metadata: { ...asRecord(value["metadata"]), uid: force.uid } }
  return api
    .request({
      method: "PATCH",
      path: secretsPath(namespace, name),
      query: { fieldManager: FIELD_MANAGER, ...(force === undefined ? {} : { force: "true" }) },
      body: sent,
      contentType: APPLY_CONTENT_TYPE,
      description: `apply secret ${namespace}/${name}${force === undefined ? "" : " (force, same uid only)"}`
    })
    .pipe(
      Effect.map((answer): ApplyResult => {
        const meta = asRecord(asRecord(answer)["metadata"])
        return { uid: String(meta["uid"] ?? ""), resourceVersion: String(meta["resourceVersion"] ?? "") }
      })
    )
}

/** Applies the Secret; `ours` is the uid of the Secret this process last applied under this name, if any. */
export const applySecret = (
  api: KubeApiShape,
  body: SecretBody,
  ours: string | undefined
): Effect.Effect<ApplyResult, SecretSyncFailure> =>
  applyOnce(api, body, undefined).pipe(
    Effect.catchIf(
      (e: KubernetesError) => isConflict(e) && ours !== undefined && ours !== "",
      () => applyOnce(api, body, { uid: ours! })
    ),
    Effect.mapError(fromTyped("ControllerPatchError"))
  )
