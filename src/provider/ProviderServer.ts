// The provider side of the v1alpha1 protocol as a scoped resource: a CSIDriverProvider server on
// `<dir>/<name>.sock`, on the same listening code as the CSI server (platform/GrpcServe.ts: stale file removed
// first, drain then force close, only its own socket removed). Shared by the reference provider and the test
// provider.
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { ServerInterceptor } from "@grpc/grpc-js"
import {
  CSIDriverProviderDefinition,
  type CSIDriverProviderServiceImplementation
} from "../gen/provider/v1alpha1/service.js"
import { serveGrpc } from "../platform/GrpcServe.js"
import { createUnaryGrpcServer } from "../platform/UnaryGrpcServer.js"

export class ProviderServerError extends Schema.TaggedError<ProviderServerError>()("ProviderServerError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** What a server interceptor sees of a call; enough to read the `:authority` a client sent. */
export interface InterceptedCall {
  getHost(): string
}

export interface ProviderServerOptions {
  readonly socketPath: string
  readonly implementation: CSIDriverProviderServiceImplementation
  /** How long closing waits for in-flight calls before cutting them; 0 closes like a crash. */
  readonly drainTimeout?: Duration.Input
  /** grpc-js server interceptors: each gets the call and must return it (or a wrapper). */
  readonly interceptors?: ReadonlyArray<(method: unknown, call: InterceptedCall) => InterceptedCall>
  /** grpc-js `grpc.max_send_message_length`; unlimited by default. */
  readonly maxSendMessageLength?: number
}

/** A listening provider server; `forceClose` cuts every connection at once (a crash, for tests). */
export interface ProviderServer {
  readonly socketPath: string
  readonly forceClose: Effect.Effect<void>
}

/** Serves until the enclosing scope closes. */
export const serveProvider = (
  options: ProviderServerOptions
): Effect.Effect<ProviderServer, ProviderServerError, Scope.Scope> =>
  Effect.gen(function* () {
    const server = createUnaryGrpcServer({
      grpc: {
        // An InterceptedCall is the part of grpc-js's call that the interceptors here read.
        interceptors: [...(options.interceptors ?? [])] as unknown as Array<ServerInterceptor>,
        "grpc.max_send_message_length": options.maxSendMessageLength ?? -1
      }
    })
    server.add(CSIDriverProviderDefinition, options.implementation)
    const served = yield* serveGrpc({
      server,
      address: { path: options.socketPath },
      drainTimeout: options.drainTimeout ?? "5 seconds"
    }).pipe(
      Effect.mapError(
        (error) =>
          new ProviderServerError({
            message: `cannot listen on ${error.address}: ${String(error.cause)}`,
            cause: error.cause
          })
      )
    )
    return { socketPath: options.socketPath, forceClose: served.forceClose }
  })
