// The control loop: SecretSyncs followed by a list/watch (kept decoded, they are small), SecretProviderClasses
// followed for their generations only, a work queue with per-key backoff, the global poll and the per-object
// refresh annotation, and the re-apply of the last applied Secrets (restores a deleted or hand-edited Secret
// without reading Secrets). Every fiber belongs to the caller's scope.
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { parseGoDuration } from "../config/GoValues.js"
import { group as spcGroup } from "../domain/SecretProviderClass.js"
import {
  decodeSecretSync,
  refreshIntervalAnnotation,
  type SecretSync,
  secretSyncKey,
  syncApiVersion,
  syncGroup,
  syncVersion
} from "../domain/SecretSync.js"
import type { WatchEvent } from "../k8s/KubeApi.js"
import { listWatch } from "../k8s/ListWatch.js"
import { makeWorkQueue } from "../sync/WorkQueue.js"
import { applySecret } from "./SecretApply.js"
import { type Applied, makeReconcile, type ReconcileDeps, retryable } from "./Reconcile.js"

export interface ControllerOptions {
  /** 0: no global poll. */
  readonly rotationPollInterval: Duration.Duration
  readonly minRefreshInterval: Duration.Duration
  /** 0: no periodic re-apply (re-applies still follow every SecretSync and SPC event). */
  readonly secretReapplyInterval: Duration.Duration
  /** Concurrent reconciles of different SecretSyncs (default 2). */
  readonly workers?: number
}

export type ControllerDeps = Omit<ReconcileDeps, "applied">

const metaOf = (o: unknown) =>
  (o as { metadata?: { namespace?: unknown; name?: unknown; generation?: unknown } } | undefined)?.metadata
const objectKey = (o: unknown) => `${String(metaOf(o)?.namespace ?? "")}/${String(metaOf(o)?.name ?? "")}`
const generationOf = (o: unknown) => Number(metaOf(o)?.generation ?? 0)

/** The refresh interval one SecretSync asks for, raised to the floor; undefined for none (or an invalid one). */
export const refreshIntervalOf = (ss: SecretSync, floor: Duration.Duration): Duration.Duration | undefined => {
  const text = ss.metadata.annotations?.[refreshIntervalAnnotation]
  if (text === undefined) return undefined
  const nanos = parseGoDuration(text.trim())
  if (nanos === undefined || nanos <= 0n) return undefined
  return Duration.max(Duration.nanos(nanos), floor)
}

const tick = Duration.seconds(1)

export const runController = (
  deps: ControllerDeps,
  options: ControllerOptions
): Effect.Effect<never, never, Scope.Scope> =>
  Effect.gen(function* () {
    const cache = new Map<string, SecretSync>()
    const spcGenerations = new Map<string, number>()
    const applied = new Map<string, Applied>()
    /** Keys that need a provider call; a queued key without one is only re-applied. */
    const wantsSync = new Set<string>()
    const lastSync = new Map<string, number>()
    const lastApply = new Map<string, number>()
    const queue = yield* makeWorkQueue({ base: Duration.seconds(1), max: Duration.minutes(5) })
    const reconcile = makeReconcile({ ...deps, applied })

    const requestSync = (key: string) =>
      Effect.suspend(() => {
        wantsSync.add(key)
        return queue.add(key)
      })
    const forgetKey = (key: string) =>
      Effect.suspend(() => {
        const ss = cache.get(key)
        cache.delete(key)
        applied.delete(key)
        wantsSync.delete(key)
        lastSync.delete(key)
        lastApply.delete(key)
        deps.hasher.forget(key)
        if (ss !== undefined) deps.tokens.forget(ss.metadata.namespace, ss.spec.serviceAccountName)
        return queue.forget(key)
      })

    // Upstream's predicate: a create, or a change of generation (a spec edit). Here also a change of the refresh
    // annotation, which is metadata but changes when the next sync is due.
    const onSecretSync = (raw: unknown) =>
      decodeSecretSync(raw).pipe(
        Effect.flatMap((ss) =>
          Effect.suspend(() => {
            const key = secretSyncKey(ss)
            const before = cache.get(key)
            cache.set(key, ss)
            const changed =
              before === undefined ||
              before.metadata.uid !== ss.metadata.uid ||
              before.metadata.generation !== ss.metadata.generation ||
              before.metadata.annotations?.[refreshIntervalAnnotation] !==
                ss.metadata.annotations?.[refreshIntervalAnnotation]
            return changed ? requestSync(key) : Effect.void
          })
        ),
        Effect.catch(() => Effect.logWarning(`secretsync ${objectKey(raw)} does not decode: skipped`))
      )
    const dependents = (spcKey: string) =>
      [...cache.values()].filter((ss) => `${ss.metadata.namespace}/${ss.spec.secretProviderClassName}` === spcKey)
    const onClass = (raw: unknown, deleted: boolean) =>
      Effect.suspend(() => {
        const key = objectKey(raw)
        const before = spcGenerations.get(key)
        if (deleted) spcGenerations.delete(key)
        else spcGenerations.set(key, generationOf(raw))
        if (!deleted && before === generationOf(raw)) return Effect.void
        return Effect.forEach(dependents(key), (ss) => requestSync(secretSyncKey(ss)), { discard: true })
      })

    let listed = new Set<string>()
    const followSyncs = listWatch(deps.api, {
      path: `/apis/${syncGroup}/${syncVersion}/secretsyncs`,
      what: "secretsyncs",
      onListStart: Effect.sync(() => void (listed = new Set())),
      onPage: (items) =>
        Effect.forEach(
          items,
          (raw) => {
            listed.add(objectKey(raw))
            return onSecretSync(raw)
          },
          { discard: true }
        ),
      // A re-list replaces the cache: what it did not deliver was deleted while no watch ran.
      onListed: Effect.suspend(() =>
        Effect.forEach(
          [...cache.keys()].filter((k) => !listed.has(k)),
          forgetKey,
          { discard: true }
        )
      ),
      onEvent: (event: WatchEvent) =>
        event.type === "DELETED" ? forgetKey(objectKey(event.object)) : onSecretSync(event.object)
    })
    let firstClassList = true
    const followClasses = listWatch(deps.api, {
      path: `/apis/${spcGroup}/v1/secretproviderclasses`,
      what: "secretproviderclasses",
      // The first list only learns generations (the SecretSync list syncs everything anyway); a re-list also
      // re-syncs the dependents of classes that changed while no watch ran.
      onPage: (items) =>
        Effect.forEach(
          items,
          (raw) =>
            firstClassList
              ? Effect.sync(() => void spcGenerations.set(objectKey(raw), generationOf(raw)))
              : onClass(raw, false),
          {
            discard: true
          }
        ),
      onListed: Effect.sync(() => void (firstClassList = false)),
      onEvent: (event: WatchEvent) => onClass(event.object, event.type === "DELETED")
    })

    const reapply = (key: string) =>
      Effect.gen(function* () {
        const entry = applied.get(key)
        const ss = cache.get(key)
        if (entry === undefined || ss === undefined || ss.metadata.uid !== entry.ssUid) return
        lastApply.set(key, yield* Clock.currentTimeMillis)
        const exit = yield* Effect.exit(applySecret(deps.api, entry.body, entry.secret.uid))
        if (exit._tag === "Failure") {
          const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
          const reason = failure?._tag === "Fail" ? failure.error.reason : "InternalError"
          yield* deps.metrics.secretApplyFailed("reapply", reason)
          yield* Effect.logWarning(`re-apply of the secret of ${key} failed`, { reason })
          return
        }
        const changed = exit.value.resourceVersion !== entry.secret.resourceVersion
        applied.set(key, { ...entry, secret: exit.value })
        yield* deps.metrics.secretApplied("reapply", changed)
        if (changed) yield* Effect.logInfo(`restored the secret of secretsync ${key}`)
      })

    const worker = Effect.gen(function* () {
      const key = yield* queue.take
      const ss = cache.get(key)
      let failed = false
      if (ss !== undefined && wantsSync.has(key)) {
        wantsSync.delete(key)
        const result = yield* reconcile(ss)
        const now = yield* Clock.currentTimeMillis
        lastSync.set(key, now)
        lastApply.set(key, now)
        if (!result.ok && retryable(result.failure)) {
          wantsSync.add(key)
          failed = true
        }
      } else if (ss !== undefined) {
        yield* reapply(key)
      }
      yield* queue.done(key, failed)
    }).pipe(Effect.forever)

    const due = (since: number | undefined, every: Duration.Duration | undefined, now: number) =>
      every !== undefined &&
      Duration.isPositive(every) &&
      since !== undefined &&
      now - since >= Duration.toMillis(every)
    const timers = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      for (const [key, ss] of cache) {
        const every = refreshIntervalOf(ss, options.minRefreshInterval) ?? options.rotationPollInterval
        if (due(lastSync.get(key), every, now)) {
          lastSync.set(key, now)
          yield* requestSync(key)
        } else if (applied.has(key) && due(lastApply.get(key), options.secretReapplyInterval, now)) {
          lastApply.set(key, now)
          yield* queue.add(key)
        }
      }
    }).pipe(Effect.repeat(Schedule.spaced(tick)))

    for (let i = 0; i < Math.max(1, options.workers ?? 2); i++) yield* Effect.forkScoped(worker)
    yield* Effect.forkScoped(followSyncs)
    yield* Effect.forkScoped(followClasses)
    yield* Effect.forkScoped(timers)
    yield* Effect.logInfo("sync controller started", { kind: `SecretSync.${syncApiVersion}` })
    return yield* Effect.never
  })
