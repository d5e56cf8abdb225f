#!/usr/bin/env node
// secrets-store-sync-controller: flags -> config -> the controller, until SIGTERM/SIGINT (or a lost leader Lease).
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { runMain } from "../platform/runMain.js"
import { parseControllerArgs } from "./ControllerConfig.js"
import { runSyncController } from "./SyncController.js"

const program = Effect.gen(function* () {
  const args = yield* parseControllerArgs(process.argv.slice(2))
  if (args._tag !== "Run") return yield* Console.log(args.text)
  if (args.ignoredFlags.length > 0) {
    yield* Effect.logWarning("zap flags accepted for compatibility have no effect", { flags: args.ignoredFlags })
  }
  return yield* runSyncController(args.config, process.env)
}).pipe(
  // Go's flag package exits 2 on a bad command line; a lost Lease exits 1 so the pod restarts as a candidate.
  Effect.catchTags({
    ConfigError: (error) =>
      Effect.sync(() => {
        process.stderr.write(`${error.message}\n`)
        process.exitCode = 2
      }),
    LeadershipLost: (error) =>
      Effect.sync(() => {
        process.stderr.write(`${error.message}\n`)
        process.exitCode = 1
      }),
    HttpListenError: (error) =>
      Effect.sync(() => {
        process.stderr.write(`cannot listen on ${error.address}: ${String(error.cause)}\n`)
        process.exitCode = 1
      })
  })
)

runMain(program)
