// The provider side of the v1alpha1 protocol as a scoped resource: a CSIDriverProvider server on
// `<dir>/<name>.sock` (stale file removed first, its own socket removed on close). Shared by the reference
// provider and the test provider, so there is one copy of the listening code.
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { createServer, type Server } from "nice-grpc"
import {
  CSIDriverProviderDefinition,
  type CSIDriverProviderServiceImplementation
} from "../gen/provider/v1alpha1/service.js"
import { type SocketFile, statSocket } from "./providerSocket.js"

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

const listen = (server: Server, socketPath: string) =>
  Effect.tryPromise({
    try: async () => {
      await fs.mkdir(nodePath.dirname(socketPath), { recursive: true })
      await fs.rm(socketPath, { force: true })
      await server.listen(`unix://${socketPath}`)
    },
    catch: (cause) => new ProviderServerError({ message: `cannot listen on unix://${socketPath}: ${String(cause)}`, cause })
  }).pipe(Effect.andThen(statSocket(socketPath)))

// A successor may already have bound the same path (a restart in a shared directory): only the
// socket file this server created is removed.
const removeOwnSocket = (socketPath: string, own: Option.Option<SocketFile>) =>
  statSocket(socketPath).pipe(
    Effect.flatMap((now) =>
      Option.isSome(now) && Option.isSome(own) && now.value.identity === own.value.identity
        ? Effect.promise(() => fs.rm(socketPath, { force: true }))
        : Effect.void
    )
  )

const close = (server: Server, socketPath: string, own: Option.Option<SocketFile>, drainTimeout: Duration.Input) =>
  (Duration.isZero(Duration.fromInputUnsafe(drainTimeout))
    ? Effect.sync(() => server.forceShutdown())
    : Effect.promise(() => server.shutdown()).pipe(
      Effect.timeoutOrElse({ duration: drainTimeout, orElse: () => Effect.sync(() => server.forceShutdown()) })
    )).pipe(Effect.andThen(removeOwnSocket(socketPath, own)))

/** Serves until the enclosing scope closes. */
export const serveProvider = (
  options: ProviderServerOptions
): Effect.Effect<ProviderServer, ProviderServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const server = createServer({
      interceptors: options.interceptors ?? [],
      "grpc.max_send_message_length": options.maxSendMessageLength ?? -1
    })
    server.add(CSIDriverProviderDefinition, options.implementation)
    yield* Effect.acquireRelease(
      listen(server, options.socketPath),
      (own) => close(server, options.socketPath, own, options.drainTimeout ?? "5 seconds")
    )
    return {
      socketPath: options.socketPath,
      forceClose: Effect.sync(() => server.forceShutdown())
    }
  })
