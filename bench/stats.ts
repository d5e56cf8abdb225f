// Sample statistics for the benchmark: min, median, p99 and the sample count, and the timing loop
// that takes them (warm-up first, untimed setup and teardown around each timed call).

export interface Summary {
  readonly n: number
  readonly min: number
  readonly median: number
  readonly p99: number
  readonly mean: number
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export const summarize = (samples: ReadonlyArray<number>): Summary => {
  const sorted = [...samples].sort((a, b) => a - b)
  const mean = sorted.reduce((sum, x) => sum + x, 0) / Math.max(1, sorted.length)
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    median: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean
  }
}

export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6

/** Wall time of one call, in milliseconds. */
export const timeOnce = async (run: () => Promise<unknown>): Promise<number> => {
  const start = nowMs()
  await run()
  return nowMs() - start
}

export interface SampleOptions {
  readonly samples: number
  readonly warmup: number
  /** Untimed, before each call (the sample index is passed on). */
  readonly before?: (i: number) => Promise<void>
  /** Untimed, after each call. */
  readonly after?: (i: number) => Promise<void>
}

/** Runs `warmup` untimed rounds, then `samples` timed ones; returns milliseconds per call. */
export const sampleMs = async (
  options: SampleOptions,
  run: (i: number) => Promise<unknown>
): Promise<Array<number>> => {
  const out: Array<number> = []
  for (let i = 0; i < options.warmup + options.samples; i++) {
    await options.before?.(i)
    const ms = await timeOnce(() => run(i))
    await options.after?.(i)
    if (i >= options.warmup) out.push(ms)
  }
  return out
}

/** Runs `total` jobs with at most `concurrency` in flight. */
export const runPool = async (total: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> => {
  let next = 0
  const worker = async () => {
    for (;;) {
      const i = next++
      if (i >= total) return
      await job(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker))
}
