// EventRateLimit: one token bucket per (pod, reason) so that a crash-looping pod cannot flood the API server with
// Warning Events (client-go's EventSourceObjectSpamFilter in spirit). No Effect and no clock of its own: callers
// pass `now` (read from Clock), so a test can drive it with any time it likes.

export interface RateLimitOptions {
  /** Events a key may send at once. */
  readonly burst: number
  /** One token comes back per this many milliseconds. */
  readonly refillMillis: number
}

export interface Bucket {
  readonly tokens: number
  /** When `tokens` was last brought up to date; it moves in whole refill steps so partial progress is kept. */
  readonly refilledAt: number
  /** Events refused since the last one that passed. */
  readonly suppressed: number
}

export type Admission =
  | {
      readonly _tag: "Pass" /** Similar events suppressed before this one, to be reported in its message. */
      readonly suppressed: number
    }
  | { readonly _tag: "Suppress" }

export const defaultRateLimit: RateLimitOptions = { burst: 5, refillMillis: 60_000 }

/** The bucket with the tokens earned between `refilledAt` and `now` (never above `burst`). */
export const refill = (bucket: Bucket, now: number, options: RateLimitOptions): Bucket => {
  const steps = Math.floor(Math.max(0, now - bucket.refilledAt) / options.refillMillis)
  if (steps === 0) return bucket
  const tokens = Math.min(options.burst, bucket.tokens + steps)
  // A full bucket earns nothing more: restart its clock so that a later spend waits a whole step.
  const refilledAt = tokens === options.burst ? now : bucket.refilledAt + steps * options.refillMillis
  return { ...bucket, tokens, refilledAt }
}

export const isFull = (bucket: Bucket, now: number, options: RateLimitOptions): boolean =>
  refill(bucket, now, options).tokens >= options.burst

/** Spend a token if there is one; otherwise count the event as suppressed. */
export const admit = (
  bucket: Bucket | undefined,
  now: number,
  options: RateLimitOptions
): readonly [Admission, Bucket] => {
  const current = refill(bucket ?? { tokens: options.burst, refilledAt: now, suppressed: 0 }, now, options)
  if (current.tokens < 1) return [{ _tag: "Suppress" }, { ...current, suppressed: current.suppressed + 1 }]
  return [
    { _tag: "Pass", suppressed: current.suppressed },
    { ...current, tokens: current.tokens - 1, suppressed: 0 }
  ]
}

/**
 * The buckets of every key. A key whose bucket has filled up again is forgotten (a fresh bucket is the same
 * thing), so the map holds only keys that sent something within the last `burst * refill`: no growth over many
 * pods. A forgotten key's unreported suppressed count is lost with it, which is the price of that bound.
 */
export class EventRateLimit {
  private readonly buckets = new Map<string, Bucket>()
  private sweptAt = Number.NEGATIVE_INFINITY
  readonly options: RateLimitOptions

  constructor(options: RateLimitOptions = defaultRateLimit) {
    if (!(options.burst >= 1) || !(options.refillMillis > 0)) {
      throw new RangeError(
        `event rate limit needs burst >= 1 and refill > 0, got ${options.burst}, ${options.refillMillis}`
      )
    }
    this.options = options
  }

  admit(key: string, now: number): Admission {
    this.sweep(now)
    const [admission, bucket] = admit(this.buckets.get(key), now, this.options)
    this.buckets.set(key, bucket)
    return admission
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.buckets.size
  }

  // A whole pass over the map at most once per refill step keeps admit O(1) amortised.
  private sweep(now: number): void {
    if (now - this.sweptAt < this.options.refillMillis) return
    this.sweptAt = now
    for (const [key, bucket] of this.buckets) {
      if (isFull(bucket, now, this.options)) this.buckets.delete(key)
    }
  }
}

/** The rate-limit key of an event: the pod (by uid when known) and the reason. */
export const rateLimitKey = (
  pod: { readonly uid: string; readonly namespace: string; readonly name: string },
  reason: string
) => `${pod.uid !== "" ? pod.uid : `${pod.namespace}/${pod.name}`}\u0000${reason}`
