#!/usr/bin/env node
// secrets-store-csi-driver: flags -> config -> Driver layer -> run until SIGTERM/SIGINT.
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Logging } from "./config/Logging.js"
import { parseDriverArgs } from "./config/parseDriverArgs.js"
import { driverLayer } from "./Driver.js"
import { runMain } from "./platform/runMain.js"

const program = Effect.gen(function* () {
  const args = yield* parseDriverArgs(process.argv.slice(2))
  if (args._tag !== "Run") return yield* Console.log(args.text)
  if (args.ignoredFlags.length > 0) {
    yield* Effect.logWarning("klog flags accepted for compatibility have no effect", { flags: args.ignoredFlags }).pipe(
      Effect.provide(Logging.layer(args.config, "driver"))
    )
  }
  return yield* Layer.launch(driverLayer(args.config))
}).pipe(
  // Go's flag package exits 2 on a bad command line; one line on stderr, no stack.
  Effect.catchTag("ConfigError", (error) =>
    Effect.sync(() => {
      process.stderr.write(`${error.message}\n`)
      process.exitCode = 2
    })
  )
)

runMain(program)
