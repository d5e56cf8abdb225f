// How the CLI ends: 0 ok, 1 the user's mistake (bad flag, bad file, a class that is not there), 2 the provider
// or the mount failed. The exit code is a function of the typed reason alone, so every command agrees.
import * as Schema from "effect/Schema"
import { FailureReason, type TypedFailure } from "../domain/FailureReason.js"

export type ExitCode = 0 | 1 | 2

const userReasons: ReadonlyArray<FailureReason> = [
  "InvalidRequest",
  "InvalidSecretProviderClass",
  "SecretProviderClassNotFound"
]

export const exitCodeFor = (reason: FailureReason): ExitCode => (userReasons.includes(reason) ? 1 : 2)

/** One line, reason first, e.g. `ProviderNotFound: provider not found: provider "vault"`. */
export const reasonLine = (failure: TypedFailure): string => `${failure.reason}: ${failure.message}`

/** A command-line value the CLI cannot use (e.g. `--token` without `=`). Never echoes a value. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  reason: FailureReason.pick(["InvalidRequest"]),
  message: Schema.String
}) {}

export const usageError = (message: string) => new UsageError({ reason: "InvalidRequest", message })

/** `validate` found problems and has printed them: exit 1 without another line. */
export class ProblemsReported extends Schema.TaggedError<ProblemsReported>()("ProblemsReported", {
  count: Schema.Number
}) {}
