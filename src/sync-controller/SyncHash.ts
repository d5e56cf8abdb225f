// status.syncHash: changes exactly when the Secret's data, the SPC's uid or generation, the SecretSync's uid or
// generation, or spec.forceSynchronization change. The status is readable by anyone who may read the SecretSync,
// so the data is never hashed plainly: PBKDF2-SHA512 (100,000 rounds, salted with the SecretSync's uid), as
// upstream does, computed off the event loop and only when the inputs' digest differs from the last one.
import { createHash, pbkdf2 } from "node:crypto"
import * as Effect from "effect/Effect"

export interface HashInputs {
  /** Secret data, key -> base64. */
  readonly data: Readonly<Record<string, string>>
  readonly spcUid: string
  readonly spcGeneration: number
  readonly ssUid: string
  readonly ssGeneration: number
  readonly forceSynchronization: string
}

const ROUNDS = 100_000
const PREFIX = "v2:"

/** Canonical bytes of the inputs: sorted keys, every field length-delimited by JSON. */
export const canonicalInputs = (inputs: HashInputs): string =>
  JSON.stringify([
    Object.keys(inputs.data)
      .sort()
      .map((k) => [k, inputs.data[k]]),
    inputs.spcUid,
    inputs.spcGeneration,
    inputs.ssUid,
    inputs.ssGeneration,
    inputs.forceSynchronization
  ])

const derive = (input: string, salt: string) =>
  Effect.callback<string>((resume) => {
    pbkdf2(input, salt, ROUNDS, 32, "sha512", (error, key) => {
      // pbkdf2 fails only on invalid arguments, which these never are.
      if (error !== null) resume(Effect.die(error))
      else resume(Effect.succeed(PREFIX + key.toString("hex")))
    })
  })

/** A hasher that remembers the last digest per SecretSync, so an unchanged poll costs one sha256. */
export const makeSyncHasher = () => {
  const last = new Map<string, { readonly digest: string; readonly hash: string }>()
  const hash = (key: string, inputs: HashInputs) =>
    Effect.suspend(() => {
      const input = canonicalInputs(inputs)
      const digest = createHash("sha256").update(input).digest("hex")
      const known = last.get(key)
      if (known !== undefined && known.digest === digest) return Effect.succeed(known.hash)
      return derive(input, inputs.ssUid).pipe(Effect.tap((h) => Effect.sync(() => last.set(key, { digest, hash: h }))))
    })
  const forget = (key: string) => void last.delete(key)
  return { hash, forget }
}
