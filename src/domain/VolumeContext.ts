// What the driver reads from kubelet's volume context and secrets map (docs/upstream.md#publish-request).
import * as Redacted from "effect/Redacted"
import type { PublishRequest } from "./PublishRequest.js"

export const TOKENS_KEY = "csi.storage.k8s.io/serviceAccount.tokens"

export interface PodInfo {
  readonly name: string
  readonly namespace: string
  readonly uid: string
}

export const podInfo = (context: Readonly<Record<string, string>>): PodInfo => ({
  name: context["csi.storage.k8s.io/pod.name"] ?? "",
  namespace: context["csi.storage.k8s.io/pod.namespace"] ?? "",
  uid: context["csi.storage.k8s.io/pod.uid"] ?? ""
})

/**
 * Kubernetes ≥1.35 with `serviceAccountTokenInSecrets` moves the tokens into the secrets map; the
 * volume context is the older place. The secrets map wins, as upstream v1.6 does.
 */
export const serviceAccountTokens = (request: PublishRequest): Redacted.Redacted<string> | undefined => {
  const tokens = Redacted.value(request.secrets)[TOKENS_KEY] ?? request.volumeContext[TOKENS_KEY]
  return tokens === undefined || tokens === "" ? undefined : Redacted.make(tokens)
}
