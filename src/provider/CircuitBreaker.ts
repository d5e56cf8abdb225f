// The circuit breaker of provider calls: a pure state machine (closed → open after N consecutive outages →
// half-open when a growing, jittered cool-off ends → closed on a success) and a Ref-based wrapper, one circuit per
// provider, whose timer moves an open circuit to half-open when its cool-off ends, calls or no calls.
// Only outages count (ProviderUnavailable, ProviderTimeout): a provider's own error answer shows the store is there.
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import { ProviderCallError } from "./ProviderCallError.js"

export type CircuitState =
  | { readonly _tag: "Closed"; readonly failures: number }
  /** `opens`: consecutive openings without a success between them (the backoff step). */
  | { readonly _tag: "Open"; readonly until: number; readonly opens: number }
  /** Cool-off over: the next call is the one trial (`trialInFlight` while it runs); others are refused meanwhile. */
  | { readonly _tag: "HalfOpen"; readonly opens: number; readonly trialInFlight: boolean }

export const closed: CircuitState = { _tag: "Closed", failures: 0 }

/** The gauge's value: 0 closed, 1 half-open, 2 open. */
export const stateValue = (state: CircuitState): 0 | 1 | 2 =>
  state._tag === "Closed" ? 0 : state._tag === "HalfOpen" ? 1 : 2

const FIRST_COOL_OFF_MS = 1_000
const MAX_COOL_OFF_MS = 120_000

/** The cool-off after the n-th consecutive opening: 1 s doubling to 2 min, less up to 20 % (`jitter` in [0, 1)). */
export const coolOffMillis = (opens: number, jitter: number): number => {
  const full = Math.min(FIRST_COOL_OFF_MS * 2 ** Math.max(0, opens - 1), MAX_COOL_OFF_MS)
  return Math.round(full * (1 - 0.2 * jitter))
}

export type Admission =
  | { readonly _tag: "Call" }
  | { readonly _tag: "Trial" }
  | { readonly _tag: "Rejected"; readonly until: number | undefined }

/** Whether a call may go out now; the first call once the cool-off is over is the trial. */
export const admit = (state: CircuitState, now: number): readonly [Admission, CircuitState] => {
  switch (state._tag) {
    case "Closed":
      return [{ _tag: "Call" }, state]
    case "Open":
      return now < state.until
        ? [{ _tag: "Rejected", until: state.until }, state]
        : [{ _tag: "Trial" }, { _tag: "HalfOpen", opens: state.opens, trialInFlight: true }]
    case "HalfOpen":
      return state.trialInFlight
        ? [{ _tag: "Rejected", until: undefined }, state]
        : [{ _tag: "Trial" }, { ...state, trialInFlight: true }]
  }
}

/** How a call that went out ended, for the circuit: "Abandoned" decides nothing (given up, or no socket). */
export type CallOutcome = "Answered" | "Outage" | "Abandoned"

export const outcomeOf = (exit: Exit.Exit<unknown, ProviderCallError>): CallOutcome => {
  if (Exit.isSuccess(exit)) return "Answered"
  const error = Exit.findErrorOption(exit)
  if (Option.isNone(error)) return "Abandoned"
  // No socket (a provider pod restarting): nobody answered and the store was never asked, so it decides nothing.
  if (error.value.reason === "ProviderNotFound") return "Abandoned"
  return error.value.reason === "ProviderUnavailable" || error.value.reason === "ProviderTimeout"
    ? "Outage"
    : "Answered"
}

export interface SettleInput {
  readonly outcome: CallOutcome
  /** Whether this call was the half-open trial. */
  readonly trial: boolean
  readonly now: number
  readonly threshold: number
  readonly jitter: number
}

/** The state after a call ends. Any answer closes the circuit; only the trial's outage re-opens a half-open one. */
export const settle = (state: CircuitState, input: SettleInput): CircuitState => {
  const { outcome, trial, now } = input
  if (outcome === "Answered") return closed
  const reopen = (opens: number): CircuitState => ({
    _tag: "Open",
    opens,
    until: now + coolOffMillis(opens, input.jitter)
  })
  switch (state._tag) {
    case "Closed": {
      if (outcome === "Abandoned") return state
      const failures = state.failures + 1
      return input.threshold > 0 && failures >= input.threshold ? reopen(1) : { _tag: "Closed", failures }
    }
    case "HalfOpen":
      if (!trial) return state
      // A trial given up by its caller decides nothing: the next call becomes the trial at once.
      return outcome === "Outage" ? reopen(state.opens + 1) : { ...state, trialInFlight: false }
    case "Open":
      return state
  }
}

/** metav1.Time style: RFC 3339 in UTC with second precision. */
const rfc3339 = (millis: number) => new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z")

export const circuitOpen = (provider: string, until: number | undefined): ProviderCallError =>
  new ProviderCallError({
    reason: "ProviderUnavailable",
    provider,
    message:
      until === undefined
        ? `circuit half-open for provider ${JSON.stringify(provider)}: one trial call is in flight, ` +
          "others fail at once"
        : `circuit open for provider ${JSON.stringify(provider)} until ${rfc3339(until)}`
  })

export interface CircuitsOptions {
  /** `--provider-circuit-threshold`: consecutive outages that open a circuit; 0 never opens. */
  readonly threshold: number
  /** Called on each change of a provider's state (after the Ref is updated). */
  readonly onChange?: (provider: string, state: CircuitState) => Effect.Effect<void>
}

export interface Circuits {
  /**
   * Runs the call if the provider's circuit lets it, and records how it ended. `reached` tells whether the call got
   * to the provider: a deadline spent waiting for a call slot (CallLimiter.ts) is no outage of the provider.
   */
  readonly guard: <A>(
    provider: string,
    call: Effect.Effect<A, ProviderCallError>,
    reached?: () => boolean
  ) => Effect.Effect<A, ProviderCallError>
  readonly states: Effect.Effect<ReadonlyMap<string, CircuitState>>
}

const describe = (state: CircuitState): string =>
  state._tag === "Open" ? `open until ${rfc3339(state.until)}` : state._tag === "HalfOpen" ? "half-open" : "closed"

const logChange = (provider: string, before: CircuitState, after: CircuitState) =>
  after._tag === "Closed"
    ? Effect.logInfo(`provider circuit closed`, { provider, was: describe(before) })
    : Effect.logWarning(`provider circuit ${describe(after)}`, { provider, was: describe(before) })

export const makeCircuits = (options: CircuitsOptions): Effect.Effect<Circuits, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Scope.Scope
    const ref = yield* Ref.make<ReadonlyMap<string, CircuitState>>(new Map())
    /** Applies `f` to the provider's state; logs and reports a change of state. */
    const update = <R>(provider: string, f: (state: CircuitState) => readonly [R, CircuitState]) =>
      Ref.modify(ref, (map) => {
        const before = map.get(provider) ?? closed
        const [result, after] = f(before)
        const next = after === before ? map : new Map(map).set(provider, after)
        return [[result, before, after] as const, next]
      }).pipe(
        Effect.flatMap(([result, before, after]) =>
          before._tag === after._tag
            ? Effect.succeed(result)
            : logChange(provider, before, after).pipe(
                Effect.andThen(options.onChange?.(provider, after) ?? Effect.void),
                Effect.andThen(after._tag === "Open" ? coolOffTimer(provider, after) : Effect.void),
                Effect.as(result)
              )
        )
      )
    /**
     * When the cool-off ends the circuit is half-open, calls or no calls: the gauge and /readyz then say the next
     * call is a trial instead of showing "open" until one comes. A state that moved on meanwhile is left as it is.
     */
    function coolOffTimer(provider: string, open: Extract<CircuitState, { _tag: "Open" }>): Effect.Effect<void> {
      const ended = (state: CircuitState): CircuitState =>
        state._tag === "Open" && state.until === open.until
          ? { _tag: "HalfOpen", opens: state.opens, trialInFlight: false }
          : state
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sleep(Duration.millis(Math.max(0, open.until - now))).pipe(
          Effect.andThen(update(provider, (state) => [undefined, ended(state)] as const)),
          Effect.forkIn(scope),
          Effect.asVoid
        )
      )
    }

    // Uninterruptible from the admission until the exit hook is in place: an interruption in between would leave a
    // half-open circuit waiting for ever on a trial that never runs.
    const guard = <A>(provider: string, call: Effect.Effect<A, ProviderCallError>, reached?: () => boolean) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const admission = yield* update(provider, (state) => admit(state, now))
          if (admission._tag === "Rejected") return yield* Effect.fail(circuitOpen(provider, admission.until))
          const trial = admission._tag === "Trial"
          return yield* restore(call).pipe(
            Effect.onExit((exit) =>
              Effect.gen(function* () {
                const outcome = outcomeOf(exit)
                const input = {
                  outcome: outcome === "Outage" && reached?.() === false ? ("Abandoned" as const) : outcome,
                  trial,
                  now: yield* Clock.currentTimeMillis,
                  threshold: options.threshold,
                  jitter: yield* Random.next
                }
                yield* update(provider, (state) => [undefined, settle(state, input)] as const)
              })
            )
          )
        })
      )

    return { guard, states: Ref.get(ref) }
  })
