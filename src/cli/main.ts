#!/usr/bin/env node
// secrets-store: the driver's real publish path on a laptop, without a cluster (mount, unmount, watch) and the
// SecretProviderClass checks upstream only makes at mount time (validate). Exit 0 ok, 1 user error, 2 failure.
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as CliError from "effect/cli/CliError"
import * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import { readBuildInfo } from "../config/BuildInfo.js"
import { Logging } from "../config/Logging.js"
import { isTypedFailure } from "../domain/FailureReason.js"
import { runMain } from "../platform/runMain.js"
import { exitCodeFor, reasonLine } from "./ExitCode.js"
import { mountCommand, unmountCommand } from "./MountCommand.js"
import { syncCommand } from "./SyncCommand.js"
import { usageOutputLayer } from "./UsageOutput.js"
import { validateCommand } from "./ValidateCommand.js"
import { watchCommand } from "./WatchCommand.js"

const cli = Command.make("secrets-store").pipe(
  Command.withDescription("The Secrets Store CSI driver's publish path, run locally against a provider socket"),
  Command.withSubcommands([mountCommand, unmountCommand, validateCommand, watchCommand, syncCommand])
)

const exitWith = (code: number, line?: string) =>
  Effect.sync(() => {
    if (line !== undefined) process.stderr.write(`${line}\n`)
    process.exitCode = code
  })

// effect/cli has already printed a bad command line, and `validate` its problems: only the code is left.
const report = (error: unknown) =>
  CliError.isCliError(error) || (error as { _tag?: unknown })._tag === "ProblemsReported"
    ? exitWith(1)
    : isTypedFailure(error)
      ? exitWith(exitCodeFor(error.reason), reasonLine(error))
      : Effect.die(error)

const program = Effect.gen(function* () {
  const { buildVersion } = yield* readBuildInfo()
  yield* Command.run(cli, { version: buildVersion.replace(/^v/, "") })
}).pipe(
  Effect.catch(report),
  Effect.provide(usageOutputLayer),
  Effect.provide(Logging.layer({ logFormatJson: false, verbosity: 0 }, "cli")),
  Effect.provide(NodeServices.layer)
)

// Ctrl-C ends `watch` normally (after its unmount), not with 130.
runMain(program)
