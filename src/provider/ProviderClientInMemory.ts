// The in-memory twin of ProviderClient for unit tests of its callers: answers from a table that a test can change,
// and a record of every Mount call.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { MountRequest } from "../gen/provider/v1alpha1/service.js"
import { invalidProviderName, type ProviderCallError, providerNotFound } from "./ProviderCallError.js"
import type { MountResult, ProviderClientShape } from "./ProviderClient.js"
import { isValidProviderName } from "./providerSocket.js"

/** A fixed result, a fixed failure, or a function of the request. */
export type InMemoryAnswer =
  | MountResult
  | ProviderCallError
  | ((request: MountRequest) => Effect.Effect<MountResult, ProviderCallError>)

export interface RecordedMount {
  readonly provider: string
  readonly request: MountRequest
}

/** The in-memory twin's control surface: `yield* ProviderClientInMemory` under `ProviderClient.layerInMemory`. */
export interface ProviderClientInMemoryShape {
  /** Every mount call so far, in order (also calls to unknown providers). */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedMount>>
  /** Sets (or replaces) how a provider answers from now on. */
  readonly set: (provider: string, answer: InMemoryAnswer) => Effect.Effect<void>
}

export class ProviderClientInMemory extends Context.Service<ProviderClientInMemory, ProviderClientInMemoryShape>()(
  "ProviderClientInMemory"
) {}

const answer = (entry: InMemoryAnswer, request: MountRequest) =>
  typeof entry === "function"
    ? entry(request)
    : "_tag" in entry && entry._tag === "ProviderCallError"
      ? Effect.fail(entry)
      : Effect.succeed(entry as MountResult)

export const makeInMemoryState = (table: Readonly<Record<string, InMemoryAnswer>>) => {
  const answers = new Map(Object.entries(table))
  const recorded: Array<RecordedMount> = []
  const lookup = (provider: string) =>
    !isValidProviderName(provider)
      ? Effect.fail(invalidProviderName(provider))
      : answers.has(provider)
        ? Effect.succeed(answers.get(provider)!)
        : Effect.fail(providerNotFound(provider))
  const client: ProviderClientShape = {
    mount: Effect.fn("ProviderClient.mount")(function* (provider: string, request: MountRequest) {
      recorded.push({ provider, request })
      return yield* answer(yield* lookup(provider), request)
    }),
    health: Effect.succeed(new Map()),
    circuits: Effect.succeed(new Map())
  }
  const control = ProviderClientInMemory.of({
    requests: Effect.sync(() => [...recorded]),
    set: (provider, entry) => Effect.sync(() => void answers.set(provider, entry))
  })
  return { client, control }
}
