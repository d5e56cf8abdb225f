// Service-account tokens for a SecretSync's Mount call, as upstream's controller mints them: one TokenRequest per
// audience for the SecretSync's own service account, 600 s, no bound object (so upstream's token admission policy
// still passes). Cached per (namespace, account, audience) until 80% of the lifetime; tokens stay Redacted.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { KubeApiShape } from "../k8s/KubeApi.js"
import { asRecord } from "../k8s/KubeResponses.js"
import { fromTyped, type SecretSyncFailure, syncFailure } from "./SyncFailure.js"

export const TOKEN_SECONDS = 600

export const tokenPath = (namespace: string, account: string) =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(account)}/token`

interface Minted {
  readonly token: Redacted.Redacted<string>
  readonly expirationTimestamp: string
  /** Epoch millis after which a new one is asked for. */
  readonly refreshAt: number
}

export interface TokenSource {
  /** The `csi.storage.k8s.io/serviceAccount.tokens` JSON, or undefined when no audience is configured. */
  readonly tokensFor: (
    namespace: string,
    account: string,
    audiences: ReadonlyArray<string>
  ) => Effect.Effect<Redacted.Redacted<string> | undefined, SecretSyncFailure>
  /** Drops the cached tokens of one account (its SecretSync was deleted). */
  readonly forget: (namespace: string, account: string) => void
}

const requestBody = (audience: string) => ({
  apiVersion: "authentication.k8s.io/v1",
  kind: "TokenRequest",
  spec: { audiences: [audience], expirationSeconds: TOKEN_SECONDS }
})

export const makeTokenSource = (api: KubeApiShape): TokenSource => {
  const cache = new Map<string, Minted>()
  const keyOf = (namespace: string, account: string, audience: string) => JSON.stringify([namespace, account, audience])

  const mint = (namespace: string, account: string, audience: string) =>
    Effect.gen(function* () {
      const body = yield* api
        .request({
          method: "POST",
          path: tokenPath(namespace, account),
          body: requestBody(audience),
          description: `create token for serviceaccount ${namespace}/${account} audience ${JSON.stringify(audience)}`
        })
        .pipe(Effect.mapError(fromTyped("ControllerSyncError")))
      const status = asRecord(asRecord(body)["status"])
      const token = status["token"]
      const expirationTimestamp = status["expirationTimestamp"]
      if (typeof token !== "string" || token === "" || typeof expirationTimestamp !== "string") {
        return yield* syncFailure(
          "KubernetesApiError",
          "ControllerSyncError",
          `create token for serviceaccount ${namespace}/${account}: the answer holds no token`
        )
      }
      const now = yield* Clock.currentTimeMillis
      const expires = Date.parse(expirationTimestamp)
      const lifetime = Number.isFinite(expires) ? Math.max(0, expires - now) : TOKEN_SECONDS * 1000
      return { token: Redacted.make(token), expirationTimestamp, refreshAt: now + lifetime * 0.8 } satisfies Minted
    })

  const one = (namespace: string, account: string, audience: string) =>
    Effect.gen(function* () {
      const key = keyOf(namespace, account, audience)
      const cached = cache.get(key)
      if (cached !== undefined && (yield* Clock.currentTimeMillis) < cached.refreshAt) return cached
      const minted = yield* mint(namespace, account, audience)
      cache.set(key, minted)
      return minted
    })

  const tokensFor: TokenSource["tokensFor"] = (namespace, account, audiences) =>
    audiences.length === 0
      ? Effect.succeed(undefined)
      : Effect.forEach(audiences, (audience) =>
          Effect.map(one(namespace, account, audience), (m) => [audience, m] as const)
        ).pipe(
          Effect.map((entries) => {
            const json: Record<string, { token: string; expirationTimestamp: string }> = {}
            for (const [audience, m] of entries) {
              json[audience] = { token: Redacted.value(m.token), expirationTimestamp: m.expirationTimestamp }
            }
            return Redacted.make(JSON.stringify(json))
          })
        )

  const forget = (namespace: string, account: string) => {
    for (const key of [...cache.keys()]) {
      const [ns, sa] = JSON.parse(key) as [string, string, string]
      if (ns === namespace && sa === account) cache.delete(key)
    }
  }
  return { tokensFor, forget }
}
