// The circuit breaker on the TestClock: opens after N consecutive outages, fails fast while open, lets exactly one
// trial through when the cool-off ends, backs off 1 s doubling to 2 min, closes on a success; answers never count.
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import { TestClock } from "effect/testing"
import {
  admit,
  closed,
  coolOffMillis,
  type CircuitState,
  makeCircuits,
  settle
} from "../../src/provider/CircuitBreaker.js"
import { ProviderCallError, providerErrorCode, providerTimeout } from "../../src/provider/ProviderCallError.js"

const outage = new ProviderCallError({ reason: "ProviderUnavailable", provider: "p", message: "down" })
const fail = (e: ProviderCallError) => Effect.fail(e)

const setup = (threshold = 3) =>
  Effect.gen(function* () {
    const changes: Array<string> = []
    const circuits = yield* makeCircuits({
      threshold,
      onChange: (provider, state) => Effect.sync(() => void changes.push(`${provider}:${state._tag}`))
    })
    let calls = 0
    const run = (answer: Effect.Effect<string, ProviderCallError>) =>
      circuits
        .guard(
          "p",
          Effect.suspend(() => {
            calls += 1
            return answer
          })
        )
        .pipe(Effect.exit)
    const state = Effect.map(circuits.states, (m) => m.get("p") ?? closed)
    return { circuits, run, state, changes, calls: () => calls }
  })

const messageOf = (exit: Exit.Exit<unknown, ProviderCallError>) =>
  Exit.isFailure(exit) ? Exit.findErrorOption(exit).pipe((o) => (o._tag === "Some" ? o.value.message : "")) : ""

describe("circuit breaker", () => {
  it.effect("opens after N consecutive outages, then fails fast with the time it opens until", () =>
    Effect.gen(function* () {
      const t = yield* setup(3)
      for (let i = 0; i < 3; i++) yield* t.run(fail(outage))
      assert.strictEqual((yield* t.state)._tag, "Open")
      assert.deepStrictEqual(t.changes, ["p:Open"])
      const exit = yield* t.run(Effect.succeed("x"))
      assert.strictEqual(t.calls(), 3)
      assert.match(messageOf(exit), /^circuit open for provider "p" until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      const reason = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
      assert.strictEqual(reason?._tag === "Some" ? reason.value.reason : "", "ProviderUnavailable")
    })
  )

  it.effect("timeouts count; a success between outages resets the count", () =>
    Effect.gen(function* () {
      const t = yield* setup(3)
      yield* t.run(fail(providerTimeout("p", "5s")))
      yield* t.run(fail(outage))
      yield* t.run(Effect.succeed("ok"))
      yield* t.run(fail(outage))
      yield* t.run(fail(outage))
      assert.strictEqual((yield* t.state)._tag, "Closed")
      yield* t.run(fail(providerTimeout("p", "5s")))
      assert.strictEqual((yield* t.state)._tag, "Open")
    })
  )

  it.effect("a provider's own errors never open it: the store answered", () =>
    Effect.gen(function* () {
      const t = yield* setup(2)
      for (let i = 0; i < 10; i++) yield* t.run(fail(providerErrorCode("p", "Forbidden")))
      assert.deepStrictEqual(yield* t.state, closed)
      assert.strictEqual(t.calls(), 10)
    })
  )

  it.effect("no socket decides nothing: it neither counts, nor resets the count, nor closes a half-open circuit", () =>
    Effect.gen(function* () {
      const t = yield* setup(3)
      const noSocket = new ProviderCallError({ reason: "ProviderNotFound", provider: "p", message: "no socket" })
      yield* t.run(fail(outage))
      yield* t.run(fail(outage))
      yield* t.run(fail(noSocket))
      assert.deepStrictEqual(yield* t.state, { _tag: "Closed", failures: 2 })
      yield* t.run(fail(outage))
      assert.strictEqual((yield* t.state)._tag, "Open")
      yield* TestClock.adjust("2 seconds")
      yield* t.run(fail(noSocket))
      const state = yield* t.state
      assert.deepStrictEqual(state, { _tag: "HalfOpen", opens: 1, trialInFlight: false }, "no socket: not closed")
      yield* t.run(Effect.succeed("ok"))
      assert.deepStrictEqual(yield* t.state, closed)
    })
  )

  it.effect("a trial interrupted between its admission and its call still settles: the circuit is not stuck", () =>
    Effect.gen(function* () {
      // The first half-open change hook yields (a slow metrics or log sink), widening the gap between admission and
      // the call.
      let slow = true
      const circuits = yield* makeCircuits({
        threshold: 1,
        onChange: (_p, state) =>
          state._tag === "HalfOpen" && slow
            ? Effect.andThen(
                Effect.sync(() => void (slow = false)),
                Effect.sleep("1 second")
              )
            : Effect.void
      })
      yield* Effect.exit(circuits.guard("p", fail(outage)))
      yield* TestClock.adjust("2 seconds")
      const trial = yield* Effect.forkChild(circuits.guard("p", Effect.never))
      yield* Effect.yieldNow
      const interrupted = yield* Effect.forkChild(Fiber.interrupt(trial))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(interrupted)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* circuits.guard("p", Effect.succeed("ok")), "ok")
      assert.strictEqual((yield* circuits.states).get("p")?._tag, "Closed")
    })
  )

  it.effect("the cool-off's end makes the circuit half-open with no call at all; the next call is the trial", () =>
    Effect.gen(function* () {
      const t = yield* setup(1)
      yield* t.run(fail(outage))
      assert.deepStrictEqual(t.changes, ["p:Open"])
      yield* TestClock.adjust("1 second")
      yield* Effect.yieldNow
      assert.deepStrictEqual(yield* t.state, { _tag: "HalfOpen", opens: 1, trialInFlight: false })
      assert.deepStrictEqual(t.changes, ["p:Open", "p:HalfOpen"])
      assert.strictEqual(Exit.isSuccess(yield* t.run(Effect.succeed("ok"))), true)
      assert.deepStrictEqual(yield* t.state, closed)
      assert.deepStrictEqual(t.changes, ["p:Open", "p:HalfOpen", "p:Closed"])
    })
  )

  it.effect("half-open after the cool-off: exactly one trial, the others fail fast; success closes", () =>
    Effect.gen(function* () {
      const t = yield* setup(1)
      yield* t.run(fail(outage))
      yield* TestClock.adjust("1 second")
      const gate = yield* Deferred.make<void>()
      const trial = yield* Effect.forkChild(t.run(Effect.as(Deferred.await(gate), "trial")))
      yield* Effect.yieldNow
      assert.strictEqual((yield* t.state)._tag, "HalfOpen")
      const other = yield* t.run(Effect.succeed("other"))
      assert.match(messageOf(other), /half-open.*one trial call is in flight/)
      assert.strictEqual(t.calls(), 2)
      yield* Deferred.succeed(gate, undefined)
      assert.isTrue(Exit.isSuccess(yield* Fiber.join(trial)))
      assert.deepStrictEqual(yield* t.state, closed)
      assert.deepStrictEqual(t.changes, ["p:Open", "p:HalfOpen", "p:Closed"])
      assert.isTrue(Exit.isSuccess(yield* t.run(Effect.succeed("after"))))
    })
  )

  it.effect("a failed trial re-opens with a doubled cool-off, growing to 2 min; success resets it", () =>
    Effect.gen(function* () {
      const t = yield* setup(1)
      yield* t.run(fail(outage))
      const cooloffs: Array<number> = []
      for (let i = 0; i < 9; i++) {
        const open = (yield* t.state) as Extract<CircuitState, { _tag: "Open" }>
        const now = yield* Clock.currentTimeMillis
        cooloffs.push(open.until - now)
        yield* TestClock.adjust(open.until - now)
        yield* t.run(fail(outage))
      }
      const full = [1, 2, 4, 8, 16, 32, 64, 120, 120].map((s) => s * 1000)
      cooloffs.forEach((c, i) => {
        assert.isAtMost(c, full[i]!)
        assert.isAtLeast(c, full[i]! * 0.8)
      })
      const open = (yield* t.state) as Extract<CircuitState, { _tag: "Open" }>
      yield* TestClock.adjust(open.until - (yield* Clock.currentTimeMillis))
      yield* t.run(Effect.succeed("ok"))
      yield* t.run(fail(outage))
      const reopened = (yield* t.state) as Extract<CircuitState, { _tag: "Open" }>
      assert.strictEqual(reopened.opens, 1)
      assert.isAtMost(reopened.until - (yield* Clock.currentTimeMillis), 1000)
    })
  )

  it.effect("a trial its caller gave up lets the next call be the trial at once", () =>
    Effect.gen(function* () {
      const t = yield* setup(1)
      yield* t.run(fail(outage))
      yield* TestClock.adjust("1 second")
      const trial = yield* Effect.forkChild(t.run(Effect.never))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(trial)
      assert.isTrue(Exit.isSuccess(yield* t.run(Effect.succeed("next"))))
      assert.deepStrictEqual(yield* t.state, closed)
    })
  )

  it.effect("threshold 0 never opens", () =>
    Effect.gen(function* () {
      const t = yield* setup(0)
      for (let i = 0; i < 20; i++) yield* t.run(fail(outage))
      assert.strictEqual((yield* t.state)._tag, "Closed")
      assert.strictEqual(t.calls(), 20)
    })
  )

  it.effect("each change of state is logged once, with the provider", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const logger = Logger.layer([Logger.make((o) => void lines.push(`${o.logLevel} ${JSON.stringify(o.message)}`))])
      yield* Effect.gen(function* () {
        const t = yield* setup(2)
        yield* t.run(fail(outage))
        yield* t.run(fail(outage))
        yield* t.run(fail(outage))
        yield* TestClock.adjust("1 second")
        yield* t.run(Effect.succeed("ok"))
      }).pipe(Effect.provide(logger))
      assert.strictEqual(lines.length, 3)
      assert.match(lines[0]!, /^Warn .*provider circuit open until \d{4}-/)
      assert.match(lines[1]!, /^Warn .*provider circuit half-open/)
      assert.match(lines[2]!, /^Info .*provider circuit closed/)
    })
  )

  it("the pure steps: cool-off bounds and an open circuit's admission", () => {
    assert.strictEqual(coolOffMillis(1, 0), 1000)
    assert.strictEqual(coolOffMillis(30, 0), 120_000)
    assert.strictEqual(coolOffMillis(3, 0.999), Math.round(4000 * (1 - 0.2 * 0.999)))
    const open: CircuitState = { _tag: "Open", until: 100, opens: 1 }
    assert.strictEqual(admit(open, 99)[0]._tag, "Rejected")
    assert.strictEqual(admit(open, 100)[0]._tag, "Trial")
    const late = settle(open, { outcome: "Outage", trial: false, now: 50, threshold: 1, jitter: 0 })
    assert.strictEqual(late, open)
  })
})
