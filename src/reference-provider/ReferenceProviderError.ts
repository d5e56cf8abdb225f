// The reference provider's one error family: what a Mount can fail with, carrying the gRPC status
// it is answered with. Messages name objects and files, never their contents.
import * as Schema from "effect/Schema"
import { ServerError, Status } from "nice-grpc"

export class ReferenceProviderError extends Schema.TaggedError<ReferenceProviderError>()("ReferenceProviderError", {
  code: Schema.Literals(["INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION"]),
  message: Schema.String
}) {}

export const invalidArgument = (message: string): ReferenceProviderError =>
  new ReferenceProviderError({ code: "INVALID_ARGUMENT", message })

export const notFound = (message: string): ReferenceProviderError =>
  new ReferenceProviderError({ code: "NOT_FOUND", message })

/** The status a gRPC client sees. */
export const toServerError = (error: ReferenceProviderError): ServerError =>
  new ServerError(Status[error.code], error.message)
