// Sample counts of one benchmark run. BENCH_QUICK=1 is a fast smoke run; any count can be overridden
// with its BENCH_<NAME> variable (e.g. BENCH_CYCLES=2000, BENCH_CYCLES_UNCAPPED=10000), BENCH_PROFILE=0 skips
// the CPU profile, and BENCH_ONLY=latency,rotating,memory,matrix,startup,payload,profile,modules picks phases
// (main.ts); BENCH_PROFILE_DIR=<dir> keeps the CPU profiles there.

export interface BenchCounts {
  readonly quick: boolean
  /** Timed samples of each floor component and of empty round trips. */
  readonly floorSamples: number
  readonly firstPublishSamples: number
  readonly noopCalls: number
  readonly rotatingSamples: number
  /** Publishes per concurrency level. */
  readonly throughputPublishes: number
  readonly concurrencyLevels: ReadonlyArray<number>
  readonly mountedVolumes: number
  readonly cycles: number
  /** Cycles of the uncapped driver: a quarter by default, so a full run stays under 10 minutes on 2 cores. */
  readonly cyclesUncapped: number
  readonly payloadSamples: number
  readonly profilePublishes: number
  /** Starts of the driver per start-up configuration (throttled and unthrottled each). */
  readonly startupSamples: number
  readonly warmup: number
}

const full: BenchCounts = {
  quick: false,
  floorSamples: 300,
  firstPublishSamples: 200,
  noopCalls: 1000,
  rotatingSamples: 200,
  throughputPublishes: 256,
  concurrencyLevels: [1, 4, 16, 64],
  mountedVolumes: 1000,
  cycles: 10_000,
  cyclesUncapped: 2_500,
  payloadSamples: 30,
  profilePublishes: 300,
  startupSamples: 5,
  warmup: 20
}

const quick: BenchCounts = {
  quick: true,
  floorSamples: 40,
  firstPublishSamples: 20,
  noopCalls: 200,
  rotatingSamples: 20,
  throughputPublishes: 64,
  concurrencyLevels: [1, 4, 16, 64],
  mountedVolumes: 50,
  cycles: 200,
  cyclesUncapped: 200,
  payloadSamples: 5,
  profilePublishes: 50,
  startupSamples: 2,
  warmup: 5
}

const intFromEnv = (name: string, fallback: number): number => {
  const text = process.env[`BENCH_${name}`]
  if (text === undefined || text === "") return fallback
  const value = Number.parseInt(text, 10)
  if (!Number.isInteger(value) || value < 1) throw new Error(`BENCH_${name} must be a positive integer, got ${text}`)
  return value
}

export const benchCounts = (): BenchCounts => {
  const base = process.env["BENCH_QUICK"] === "1" ? quick : full
  return {
    ...base,
    floorSamples: intFromEnv("FLOOR_SAMPLES", base.floorSamples),
    firstPublishSamples: intFromEnv("FIRST_PUBLISH_SAMPLES", base.firstPublishSamples),
    noopCalls: intFromEnv("NOOP_CALLS", base.noopCalls),
    rotatingSamples: intFromEnv("ROTATING_SAMPLES", base.rotatingSamples),
    throughputPublishes: intFromEnv("THROUGHPUT_PUBLISHES", base.throughputPublishes),
    mountedVolumes: intFromEnv("VOLUMES", base.mountedVolumes),
    cycles: intFromEnv("CYCLES", base.cycles),
    cyclesUncapped: intFromEnv(
      "CYCLES_UNCAPPED",
      process.env["BENCH_CYCLES"] === undefined ? base.cyclesUncapped : intFromEnv("CYCLES", base.cycles)
    ),
    payloadSamples: intFromEnv("PAYLOAD_SAMPLES", base.payloadSamples),
    profilePublishes: intFromEnv("PROFILE_PUBLISHES", base.profilePublishes),
    startupSamples: intFromEnv("STARTUP_SAMPLES", base.startupSamples),
    warmup: intFromEnv("WARMUP", base.warmup)
  }
}

export const profileEnabled = (): boolean => process.env["BENCH_PROFILE"] !== "0"
