// The opt-in node cache, in memory only: one in-flight provider call per identity key (later publishes of the key
// wait for it), the last good validated payload per key (LRU, bounded by bytes), served stale to a first publish
// when the store is down. An entry is only ever served to its own key; nothing here is logged.
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { TypedFailure } from "../domain/FailureReason.js"
import type { ObjectVersion } from "../provider/ProviderClient.js"
import type { ValidatedPayload } from "../writer/Payload.js"
import type { CacheScope } from "./NodeCacheKey.js"

/** What one provider call yields once validated. */
export interface Fetched {
  readonly payload: ValidatedPayload
  readonly objectVersions: ReadonlyArray<ObjectVersion>
}

export type Served =
  /** `coalesced`: another publish's call fetched it. */
  | { readonly _tag: "Fresh"; readonly fetched: Fetched; readonly coalesced: boolean }
  /** The provider failed; the key's last good payload, `ageMillis` old, is served instead. */
  | { readonly _tag: "Stale"; readonly fetched: Fetched; readonly ageMillis: number; readonly failure: TypedFailure }

export interface NodeCacheShape {
  /**
   * `call` for a publish: run directly without a scope; with one, shared with the publishes of the same key in
   * flight, and on a first publish (`first`) replaced by the key's last good payload when it fails with the store
   * unreachable (ProviderUnavailable, ProviderTimeout, circuit open) and the payload is young enough.
   */
  readonly fetch: <E extends TypedFailure>(
    scope: CacheScope | undefined,
    first: boolean,
    call: Effect.Effect<Fetched, E>
  ) => Effect.Effect<Served, E>
  /** A class deleted from the cluster (`<namespace>/<name>`): every entry of it goes. */
  readonly dropClass: (spc: string) => Effect.Effect<void>
  /** Bytes held (file contents, paths, versions and keys). */
  readonly size: Effect.Effect<number>
}

interface Entry {
  readonly fetched: Fetched
  readonly fetchedAt: number
  readonly bytes: number
  readonly spc: string
  readonly maxStalenessMillis: number
}

const KEY_BYTES = 64
const sizeOf = (fetched: Fetched, spc: string): number => {
  let bytes = KEY_BYTES + Buffer.byteLength(spc)
  for (const file of fetched.payload.files) bytes += file.contents.byteLength + Buffer.byteLength(file.path)
  for (const v of fetched.objectVersions) bytes += Buffer.byteLength(v.id) + Buffer.byteLength(v.version)
  return bytes
}

const storeIsDown = (failure: TypedFailure) =>
  failure.reason === "ProviderUnavailable" || failure.reason === "ProviderTimeout"

/** The memory of the cache: entries in least-recently-used order (a Map keeps insertion order). */
const makeEntries = (maxBytes: number) => {
  const entries = new Map<string, Entry>()
  const generations = new Map<string, number>()
  let total = 0
  const drop = (key: string) => {
    const entry = entries.get(key)
    if (entry === undefined) return
    entries.delete(key)
    total -= entry.bytes
  }
  return {
    size: () => total,
    /** A new generation of a class drops every entry of the class (a lookup of the new one never matches them). */
    seeGeneration: (scope: CacheScope) => {
      const known = generations.get(scope.spc)
      generations.set(scope.spc, scope.generation)
      if (known === undefined || known === scope.generation) return
      for (const [key, entry] of entries) if (entry.spc === scope.spc) drop(key)
    },
    dropClass: (spc: string) => {
      generations.delete(spc)
      for (const [key, entry] of entries) if (entry.spc === spc) drop(key)
    },
    get: (key: string): Entry | undefined => {
      const entry = entries.get(key)
      if (entry === undefined) return undefined
      entries.delete(key)
      entries.set(key, entry)
      return entry
    },
    put: (key: string, scope: CacheScope, fetched: Fetched, now: number) => {
      drop(key)
      // Entries past their staleness can never be served again.
      for (const [k, e] of entries) if (now - e.fetchedAt > e.maxStalenessMillis) drop(k)
      const bytes = sizeOf(fetched, scope.spc)
      if (bytes > maxBytes) return
      const entry = { fetched, fetchedAt: now, bytes, spc: scope.spc, maxStalenessMillis: scope.maxStalenessMillis }
      entries.set(key, entry)
      total += bytes
      for (const k of entries.keys()) {
        if (total <= maxBytes) break
        drop(k)
      }
    }
  }
}

export interface NodeCacheOptions {
  /** `--node-cache-max-bytes`. */
  readonly maxBytes: number
}

const make = (options: NodeCacheOptions): NodeCacheShape => {
  const memory = makeEntries(options.maxBytes)
  const inFlight = new Map<string, Deferred.Deferred<Exit.Exit<Fetched, TypedFailure>>>()

  /** Runs the call as the key's leader: its exit goes to every publish that waits on the key. */
  const lead = <E extends TypedFailure>(scope: CacheScope, call: Effect.Effect<Fetched, E>) =>
    // Uninterruptible until the exit hook is in place: a registered call always completes its waiters.
    Effect.uninterruptibleMask((restore) => {
      const done = Deferred.makeUnsafe<Exit.Exit<Fetched, TypedFailure>>()
      inFlight.set(scope.key, done)
      return restore(call).pipe(
        Effect.tap((fetched) =>
          // A provider that wrote its own files returns none: there is nothing another target could be given.
          fetched.payload.files.length === 0
            ? Effect.void
            : Effect.map(Clock.currentTimeMillis, (now) => memory.put(scope.key, scope, fetched, now))
        ),
        Effect.onExit((exit) =>
          Effect.suspend(() => {
            if (inFlight.get(scope.key) === done) inFlight.delete(scope.key)
            return Deferred.succeed(done, exit)
          })
        )
      )
    })

  const orStale = <E extends TypedFailure>(scope: CacheScope, first: boolean, failure: E) =>
    Effect.gen(function* () {
      const entry = first && storeIsDown(failure) ? memory.get(scope.key) : undefined
      const now = yield* Clock.currentTimeMillis
      if (entry === undefined || now - entry.fetchedAt > scope.maxStalenessMillis) return yield* Effect.fail(failure)
      return { _tag: "Stale", fetched: entry.fetched, ageMillis: now - entry.fetchedAt, failure } satisfies Served
    })

  const fetch = <E extends TypedFailure>(
    scope: CacheScope | undefined,
    first: boolean,
    call: Effect.Effect<Fetched, E>
  ): Effect.Effect<Served, E> =>
    Effect.suspend((): Effect.Effect<Served, E> => {
      if (scope === undefined) return Effect.map(call, (fetched) => ({ _tag: "Fresh", fetched, coalesced: false }))
      memory.seeGeneration(scope)
      const running = inFlight.get(scope.key)
      const own = running === undefined
      const outcome = own
        ? Effect.exit(lead(scope, call))
        : Effect.map(Deferred.await(running), (exit) => exit as Exit.Exit<Fetched, E>)
      return Effect.flatMap(outcome, (exit): Effect.Effect<Served, E> => {
        if (Exit.isSuccess(exit)) {
          // No files: the provider wrote them into the leader's target itself, so this target needs its own call.
          if (!own && exit.value.payload.files.length === 0) {
            return Effect.map(call, (fetched): Served => ({ _tag: "Fresh", fetched, coalesced: false }))
          }
          return Effect.succeed({ _tag: "Fresh", fetched: exit.value, coalesced: !own })
        }
        const failure = Exit.findErrorOption(exit)
        if (Option.isSome(failure)) return orStale(scope, first, failure.value)
        // The leader was interrupted or died: a waiter asks for itself; the leader ends as its call did.
        return own ? Effect.failCause(exit.cause) : fetch(scope, first, call)
      })
    })

  return {
    fetch,
    dropClass: (spc) => Effect.sync(() => memory.dropClass(spc)),
    size: Effect.sync(() => memory.size())
  }
}

export class NodeCache extends Context.Service<NodeCache, NodeCacheShape>()("NodeCache") {
  static readonly layer = (options: NodeCacheOptions): Layer.Layer<NodeCache> =>
    Layer.sync(NodeCache, () => make(options))
}
