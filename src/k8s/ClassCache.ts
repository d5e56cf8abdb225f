// The driver's cluster-wide SecretProviderClass cache, bounded: only the kept fields (ClassFields.ts), no object
// above a size bound, no more than a total, listed a few objects at a time. What it does not hold, a lookup
// reads from the API server, so a namespace that creates huge or countless classes costs API calls, not memory.
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import { group, type SecretProviderClass } from "../domain/SecretProviderClass.js"
import { decodeKept, estimatedSize, keptFields } from "./ClassFields.js"
import type { KubeApiShape } from "./KubeApi.js"
import { listWatch } from "./ListWatch.js"

export const classCacheBounds = {
  /** A class whose kept fields are estimated above this is never cached. */
  maxObjectBytes: 64 * 1024,
  /** Estimated heap of every cached class together; past it, further classes are read on demand. */
  maxTotalBytes: 16 * 1024 * 1024,
  /**
   * Items per list request. The API server stores objects of up to 1.5 MiB, and a parsed page of such objects
   * holds up to about 4.5 times its JSON (many short parameters): 5 of them stay near 40 MiB, well under the
   * 96 MiB old space the DaemonSet gives the driver, where one unpaged list of a few hundred did not fit.
   */
  pageSize: 5
} as const

interface Entry {
  readonly spc: SecretProviderClass
  readonly size: number
  /** The list that last delivered it (or a watch event after that list). */
  readonly listed: number
}

export const classKey = (namespace: string, name: string) => `${namespace}/${name}`

const keyOfObject = (o: unknown) => {
  const meta = (o as { metadata?: { namespace?: unknown; name?: unknown } } | undefined)?.metadata
  return classKey(String(meta?.namespace ?? ""), String(meta?.name ?? ""))
}

/**
 * Upstream reads SPCs from an informer so a publish costs no API round trip for them. This is that cache, kept
 * by one cluster-wide list/watch started on the first lookup (a driver without a cluster never starts it).
 * `lookup` answers undefined for anything not cached: not synced yet, absent, too large, or past the total.
 */
export const makeClassCache = (api: KubeApiShape, onDeleted: (key: string) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.Scope
    const entries = new Map<string, Entry>()
    let total = 0
    let list = 0
    let state: "idle" | "listing" | "synced" = "idle"
    let full = false

    const drop = (key: string) => {
      const entry = entries.get(key)
      if (entry === undefined) return
      total -= entry.size
      entries.delete(key)
      if (full && total <= classCacheBounds.maxTotalBytes / 2) full = false
    }
    const admit = (key: string, spc: SecretProviderClass, size: number) => {
      if (total + size <= classCacheBounds.maxTotalBytes) {
        entries.set(key, { spc, size, listed: list })
        total += size
        return Effect.void
      }
      if (full) return Effect.void
      full = true
      return Effect.logWarning(
        `secretproviderclasses (cache): ${entries.size} classes fill its ` +
          `${classCacheBounds.maxTotalBytes / 1024 / 1024} MiB; ${key} and further classes are read from the API ` +
          `server on every lookup`
      )
    }
    // The old version never outlives a change: an object that no longer decodes, or grew past the bound, leaves
    // the cache, so a lookup asks the API server and reports what it finds rather than using the last good version.
    const put = (o: unknown) => {
      const key = keyOfObject(o)
      drop(key)
      if (estimatedSize(keptFields(o), classCacheBounds.maxObjectBytes) > classCacheBounds.maxObjectBytes) {
        return Effect.void
      }
      return decodeKept(o).pipe(
        Effect.flatMap((spc) => {
          const size = estimatedSize(spc, classCacheBounds.maxObjectBytes)
          return size > classCacheBounds.maxObjectBytes ? Effect.void : admit(key, spc, size)
        }),
        Effect.catch(() => Effect.void)
      )
    }
    // A re-list replaces the cache like an informer's: what it did not deliver was deleted while no watch ran.
    const sweep = Effect.suspend(() => {
      const gone = [...entries].filter(([, entry]) => entry.listed < list).map(([key]) => key)
      for (const key of gone) drop(key)
      state = "synced"
      return Effect.forEach(gone, onDeleted, { discard: true })
    })
    const follow = listWatch(api, {
      path: `/apis/${group}/v1/secretproviderclasses`,
      what: "secretproviderclasses (cache)",
      pageSize: classCacheBounds.pageSize,
      onListStart: Effect.sync(() => void list++),
      onPage: (items) => Effect.forEach(items, put, { discard: true }),
      onListed: sweep,
      // Every deletion is announced, cached class or not (one above the bounds is deleted all the same).
      onEvent: (event) => {
        if (event.type !== "DELETED") return put(event.object)
        const key = keyOfObject(event.object)
        drop(key)
        return onDeleted(key)
      }
    })
    const start = Effect.suspend(() => {
      if (state !== "idle") return Effect.void
      state = "listing"
      return Effect.asVoid(Effect.forkIn(follow, scope))
    })
    const cached = (namespace: string, name: string) =>
      state === "synced" ? entries.get(classKey(namespace, name))?.spc : undefined
    const lookup = (namespace: string, name: string) =>
      Effect.andThen(
        start,
        Effect.sync(() => cached(namespace, name))
      )
    return { lookup }
  })
