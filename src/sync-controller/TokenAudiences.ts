// Which token audiences each provider gets (`--token-request-audience`): entries split on commas and trimmed (the
// upstream chart joins its list with ", ", which upstream then sends with a leading space); `provider=audience`
// entries go to that provider only (upstream #218), plain entries to every provider.
import * as Result from "effect/Result"

export interface TokenAudiences {
  /** Requested for every SecretSync, whatever its provider. */
  readonly all: ReadonlyArray<string>
  /** Requested only for SecretSyncs whose SecretProviderClass names this provider. */
  readonly byProvider: Readonly<Record<string, ReadonlyArray<string>>>
}

// A provider name (the socket rule, non-empty) before "=": `vault=https://vault.example` is vault's only. An
// audience URL such as `https://x?a=b` has characters before "=" that no provider name may hold, so it stays global.
const scoped = /^([a-zA-Z0-9_-]{1,30})=(.*)$/

export const parseAudiences = (text: string): Result.Result<TokenAudiences, string> => {
  const all: Array<string> = []
  const byProvider: Record<string, Array<string>> = {}
  for (const entry of text
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "")) {
    const match = scoped.exec(entry)
    if (match === null) {
      if (!all.includes(entry)) all.push(entry)
      continue
    }
    const provider = match[1]!
    const audience = match[2]!.trim()
    if (audience === "") return Result.fail(`entry ${JSON.stringify(entry)} names no audience`)
    const list = (byProvider[provider] ??= [])
    if (!list.includes(audience)) list.push(audience)
  }
  return Result.succeed({ all, byProvider })
}

/** The audiences a provider's SecretSyncs get tokens for: the global ones, then its own, each once. */
export const audiencesFor = (audiences: TokenAudiences, provider: string): ReadonlyArray<string> => [
  ...new Set([
    ...audiences.all,
    ...(Object.hasOwn(audiences.byProvider, provider) ? audiences.byProvider[provider]! : [])
  ])
]
