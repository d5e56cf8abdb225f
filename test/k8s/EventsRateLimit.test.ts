// EventRateLimit (src/k8s/EventRateLimit.ts): the token bucket per (pod, reason) as tables over a clock the test
// controls, the suppressed count, and the forgetting of keys whose bucket is full again.
import { assert, describe, it } from "@effect/vitest"
import { admit, EventRateLimit, isFull, rateLimitKey, refill } from "../../src/k8s/EventRateLimit.js"

const options = { burst: 3, refillMillis: 1_000 }

/**
 * Feeds `steps` (time, key) to one limiter and renders each answer: "pass", "pass+N" (N suppressed before) or
 * "drop".
 */
const run = (steps: ReadonlyArray<readonly [number, string]>) => {
  const limiter = new EventRateLimit(options)
  return steps.map(([now, key]) => {
    const a = limiter.admit(key, now)
    return a._tag === "Suppress" ? "drop" : a.suppressed === 0 ? "pass" : `pass+${a.suppressed}`
  })
}

describe("EventRateLimit", () => {
  it.each([
    {
      name: "burst passes, then drops",
      steps: [
        [0, "a"],
        [0, "a"],
        [0, "a"],
        [0, "a"],
        [999, "a"]
      ],
      expected: ["pass", "pass", "pass", "drop", "drop"]
    },
    {
      name: "a refill lets one through and reports the drops",
      steps: [
        [0, "a"],
        [0, "a"],
        [0, "a"],
        [0, "a"],
        [0, "a"],
        [1_000, "a"],
        [1_000, "a"]
      ],
      expected: ["pass", "pass", "pass", "drop", "drop", "pass+2", "drop"]
    },
    {
      name: "keys are independent",
      steps: [
        [0, "a"],
        [0, "a"],
        [0, "a"],
        [0, "a"],
        [0, "b"],
        [0, "b"]
      ],
      expected: ["pass", "pass", "pass", "drop", "pass", "pass"]
    },
    {
      name: "two refill steps give two tokens",
      steps: [
        [0, "a"],
        [0, "a"],
        [0, "a"],
        [2_500, "a"],
        [2_500, "a"],
        [2_500, "a"]
      ],
      expected: ["pass", "pass", "pass", "pass", "pass", "drop"]
    },
    {
      name: "partial refill progress is kept",
      steps: [
        [0, "a"],
        [0, "a"],
        [0, "a"],
        [600, "a"],
        [1_200, "a"],
        [1_900, "a"],
        [2_000, "a"]
      ],
      expected: ["pass", "pass", "pass", "drop", "pass+1", "drop", "pass+1"]
    },
    {
      name: "tokens never exceed burst after a long pause",
      steps: [
        [0, "a"],
        [100_000, "a"],
        [100_000, "a"],
        [100_000, "a"],
        [100_000, "a"]
      ],
      expected: ["pass", "pass", "pass", "pass", "drop"]
    }
  ] as const)("$name", ({ steps, expected }) => {
    assert.deepStrictEqual(run(steps), [...expected])
  })

  it("a clock that goes backwards earns nothing", () => {
    assert.deepStrictEqual(
      run([
        [5_000, "a"],
        [5_000, "a"],
        [5_000, "a"],
        [0, "a"],
        [5_999, "a"]
      ]),
      ["pass", "pass", "pass", "drop", "drop"]
    )
  })

  it("forgets a key once its bucket is full again: many pods leave no state behind", () => {
    const limiter = new EventRateLimit(options)
    for (let i = 0; i < 10_000; i++) limiter.admit(`pod-${i}`, 0)
    assert.strictEqual(limiter.size, 10_000)
    // Each pod spent one token; one comes back per second, so at 1 s every bucket is full again.
    limiter.admit("late", 999)
    assert.strictEqual(limiter.size, 10_001)
    limiter.admit("late", 1_000)
    assert.strictEqual(limiter.size, 1)
  })

  it("keeps a key that is still paying off its burst", () => {
    const limiter = new EventRateLimit(options)
    for (let i = 0; i < 3; i++) limiter.admit("busy", 0)
    limiter.admit("other", 1_000)
    assert.strictEqual(limiter.size, 2)
    assert.deepStrictEqual(limiter.admit("busy", 1_000), { _tag: "Pass", suppressed: 0 })
  })

  it("refuses a limit that would never pass or never refill", () => {
    assert.throws(() => new EventRateLimit({ burst: 0, refillMillis: 1_000 }), RangeError)
    assert.throws(() => new EventRateLimit({ burst: 1, refillMillis: 0 }), RangeError)
  })
})

describe("bucket functions", () => {
  it("admit on a fresh key spends one token and starts the clock now", () => {
    assert.deepStrictEqual(admit(undefined, 42, options), [
      { _tag: "Pass", suppressed: 0 },
      { tokens: 2, refilledAt: 42, suppressed: 0 }
    ])
  })

  it("refill adds whole steps, keeps the remainder, and restarts the clock when full", () => {
    assert.deepStrictEqual(refill({ tokens: 0, refilledAt: 0, suppressed: 4 }, 1_500, options), {
      tokens: 1,
      refilledAt: 1_000,
      suppressed: 4
    })
    assert.deepStrictEqual(refill({ tokens: 2, refilledAt: 0, suppressed: 0 }, 7_300, options), {
      tokens: 3,
      refilledAt: 7_300,
      suppressed: 0
    })
    assert.isFalse(isFull({ tokens: 2, refilledAt: 0, suppressed: 0 }, 999, options))
    assert.isTrue(isFull({ tokens: 2, refilledAt: 0, suppressed: 0 }, 1_000, options))
  })

  it("the key is the pod uid and reason, or namespace/name without a uid", () => {
    assert.strictEqual(rateLimitKey({ uid: "u1", namespace: "ns", name: "p" }, "MountFailed"), "u1\u0000MountFailed")
    assert.strictEqual(rateLimitKey({ uid: "", namespace: "ns", name: "p" }, "MountFailed"), "ns/p\u0000MountFailed")
  })
})
