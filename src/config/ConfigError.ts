// The one error a bad command line produces. Not a request failure, so it carries no FailureReason: main
// prints its single-line message to stderr and exits non-zero, as Go's flag package does.
import * as Schema from "effect/Schema"

export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  message: Schema.String
}) {}
