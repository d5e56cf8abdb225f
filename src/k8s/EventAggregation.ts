// Event aggregation like client-go's EventCorrelator (kubelet's recorder): a repeat of the same involved object,
// type, reason, message and source updates one Event's count and lastTimestamp instead of creating another. The
// memory is an LRU of the last keys seen (client-go keeps 4096), so many pods cannot grow it without bound.

/** client-go's maxLruCacheEntries. */
export const defaultAggregateCapacity = 4096

export interface AggregateKeyParts {
  readonly component: string
  readonly host: string
  readonly involvedObject: {
    readonly kind: string
    readonly namespace: string
    readonly name: string
    readonly uid: string
    readonly apiVersion: string
  }
  readonly type: string
  readonly reason: string
  /** The caller's message, before the rate limit's "(n similar events suppressed)" note. */
  readonly message: string
}

export const aggregateKey = (parts: AggregateKeyParts): string => {
  const o = parts.involvedObject
  return JSON.stringify([
    parts.component,
    parts.host,
    o.kind,
    o.namespace,
    o.name,
    o.uid,
    o.apiVersion,
    parts.type,
    parts.reason,
    parts.message
  ])
}

/** The Event a key was last sent as. */
export interface Aggregate {
  readonly name: string
  readonly count: number
  readonly firstMillis: number
}

export type Observation =
  | { readonly _tag: "Create"; readonly aggregate: Aggregate }
  | { readonly _tag: "Update"; readonly aggregate: Aggregate }

/** No Effect and no clock of its own, like EventRateLimit: the caller passes `now` and a fresh name. */
export class EventAggregates {
  private readonly entries = new Map<string, Aggregate>()
  private readonly capacity: number

  constructor(capacity = defaultAggregateCapacity) {
    this.capacity = capacity
  }

  /** A first sighting creates an Event named `name`; a repeat updates the Event of the key with count + 1. */
  observe(key: string, name: string, now: number): Observation {
    const seen = this.entries.get(key)
    // Delete then set: a Map iterates in insertion order, so the first key is the least recently seen.
    this.entries.delete(key)
    const observation: Observation =
      seen === undefined
        ? { _tag: "Create", aggregate: { name, count: 1, firstMillis: now } }
        : { _tag: "Update", aggregate: { ...seen, count: seen.count + 1 } }
    this.entries.set(key, observation.aggregate)
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next()
      if (oldest.done !== true) this.entries.delete(oldest.value)
    }
    return observation
  }

  get size(): number {
    return this.entries.size
  }
}
