// The NodePublishVolume request kubelet would send for a pod with one inline secrets-store volume
// (docs/upstream.md#publish-request): pod info in the volume context, tokens in kubelet's JSON shape, the
// nodePublishSecretRef data as secrets.
import { createHash, randomUUID } from "node:crypto"
import * as Redacted from "effect/Redacted"
import type { PublishRequest, UnpublishRequest } from "../domain/PublishRequest.js"
import { TOKENS_KEY } from "../domain/VolumeContext.js"
import { parseVolumeTarget } from "../domain/VolumeTarget.js"

/** The name the pod spec gives the volume; kubelet hashes it into the volume id. */
const VOLUME_NAME = "secrets-store"
// kubelet's default for tokenRequests without expirationSeconds.
const TOKEN_LIFETIME_MS = 3_600_000

export interface PodIdentity {
  readonly name: string
  readonly namespace: string
  readonly uid: string
  readonly serviceAccount: string
}

export interface KubeletInput {
  readonly spcName: string
  readonly targetPath: string
  readonly pod: PodIdentity
  /** Audience ("" is the API server's default audience) -> JWT. */
  readonly tokens: Readonly<Record<string, Redacted.Redacted<string>>>
  readonly secrets: Readonly<Record<string, Redacted.Redacted<string>>>
  readonly nowMillis: number
}

/** A pod uid the way the API server makes them (a random UUID): each CLI run is a new pod. */
export const generatePodUid = (): string => randomUUID()

/** `csi-` + hex sha256(pod uid + volume name), as kubelet names inline volumes. */
const volumeIdFor = (podUid: string): string =>
  `csi-${createHash("sha256")
    .update(podUid + VOLUME_NAME)
    .digest("hex")}`

/** `{"<aud>": {"token": "...", "expirationTimestamp": "..."}}`, or undefined without tokens. */
const tokensJson = (tokens: KubeletInput["tokens"], nowMillis: number): Redacted.Redacted<string> | undefined => {
  const entries = Object.entries(tokens)
  if (entries.length === 0) return undefined
  const expirationTimestamp = new Date(nowMillis + TOKEN_LIFETIME_MS).toISOString().replace(/\.\d{3}Z$/, "Z")
  return Redacted.make(
    JSON.stringify(
      Object.fromEntries(
        entries.map(([audience, token]) => [audience, { token: Redacted.value(token), expirationTimestamp }])
      )
    )
  )
}

export const kubeletPublishRequest = (input: KubeletInput): PublishRequest => {
  const tokens = tokensJson(input.tokens, input.nowMillis)
  return {
    volumeId: volumeIdFor(input.pod.uid),
    targetPath: input.targetPath,
    readonly: true,
    volumeContext: {
      secretProviderClass: input.spcName,
      "csi.storage.k8s.io/pod.name": input.pod.name,
      "csi.storage.k8s.io/pod.namespace": input.pod.namespace,
      "csi.storage.k8s.io/pod.uid": input.pod.uid,
      "csi.storage.k8s.io/serviceAccount.name": input.pod.serviceAccount,
      "csi.storage.k8s.io/ephemeral": "true",
      ...(tokens === undefined ? {} : { [TOKENS_KEY]: Redacted.value(tokens) })
    },
    secrets: Redacted.make(Object.fromEntries(Object.entries(input.secrets).map(([k, v]) => [k, Redacted.value(v)]))),
    mountFlags: []
  }
}

/** Unpublish needs no pod: kubelet sends the volume id and the target only, and the driver reads just the target. */
export const kubeletUnpublishRequest = (targetPath: string): UnpublishRequest => ({ volumeId: "csi-cli", targetPath })

const VOLUME_PATH = /^(\/.*)\/pods\/[^/]+\/volumes\/kubernetes\.io~csi\/[^/]+\/mount\/?$/

/**
 * The kubelet root a target path lies under, when it has kubelet's shape `<root>/pods/<uid>/volumes/
 * kubernetes.io~csi/<name>/mount` (absolute, clean): the root the CLI's local driver confines itself to.
 */
export const kubeletRootOf = (target: string): string | undefined => {
  const root = VOLUME_PATH.exec(target)?.[1]
  return root !== undefined && typeof parseVolumeTarget(root, target) !== "string" ? root : undefined
}

export const volumePathShape = "<root>/pods/<pod>/volumes/kubernetes.io~csi/<volume>/mount"
