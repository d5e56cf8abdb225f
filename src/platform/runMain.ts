// How each program of this package (the driver, the CLI, the reference provider, the sync controller) runs and ends:
// NodeRuntime's runMain, where SIGTERM/SIGINT interrupt the program and its finalizers run. An interruption is a normal
// exit (0, not 130): the program drained and cleaned up as asked. Any other failure exits as Effect's default teardown
// says.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"

const interruptExitsZero: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : Runtime.defaultTeardown(exit, onExit)

export const runMain = <A, E>(program: Effect.Effect<A, E>): void =>
  NodeRuntime.runMain(program, { teardown: interruptExitsZero })
