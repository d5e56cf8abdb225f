// The API server's readiness check: one GET of the CRD group per TTL, its failure reported in one line.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import { apiServerCheck } from "../../src/k8s/ApiServerReadiness.js"

describe("apiServerCheck", () => {
  it.effect("asks the API server at most once per TTL and reports its failure in one line", () =>
    Effect.gen(function* () {
      const asked: Array<string> = []
      let answer: Effect.Effect<unknown, { message: string }> = Effect.succeed({ kind: "APIResourceList" })
      const check = yield* apiServerCheck((p) => Effect.suspend(() => (asked.push(p), answer)), "5 seconds")
      yield* check
      yield* check
      expect(asked).toEqual(["/apis/secrets-store.csi.x-k8s.io/v1"])
      answer = Effect.fail({ message: "failed to get API group, error: connect ECONNREFUSED\nmore detail" })
      yield* TestClock.adjust("4 seconds")
      yield* check
      expect(asked).toHaveLength(1)
      yield* TestClock.adjust("2 seconds")
      expect(yield* Effect.flip(check)).toBe("failed to get API group, error: connect ECONNREFUSED")
      expect(asked).toHaveLength(2)
    })
  )
})
