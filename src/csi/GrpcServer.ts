// The CSI gRPC server as a scoped resource: listens on the endpoint (a stale socket file is
// removed first), serves Identity and Node, and on scope close drains in-flight calls before
// removing its socket, so SIGTERM never cuts a publish in half.
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { createServer, type Server } from "nice-grpc"
import { IdentityDefinition, NodeDefinition } from "../gen/csi/v1/csi.js"
import type { Publisher } from "../publish/Publisher.js"
import { makeIdentityService, type PluginIdentity } from "./IdentityService.js"
import { makeNodeService } from "./NodeService.js"
import type { Endpoint } from "../config/DriverConfig.js"
import { Verbosity } from "../config/Logging.js"
import { makeRequestLog } from "./RequestLog.js"

export type { Endpoint } from "../config/DriverConfig.js"

export class ServerStartError extends Schema.TaggedError<ServerStartError>()("ServerStartError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

export interface GrpcServerOptions {
  readonly endpoint: Endpoint
  readonly identity: PluginIdentity
  readonly nodeId: string
  /** How long shutdown waits for in-flight calls before cancelling them. */
  readonly drainTimeout?: Duration.Input
}

const address = (endpoint: Endpoint) =>
  endpoint._tag === "unix" ? `unix:${endpoint.path}` : `${endpoint.host}:${endpoint.port}`

const describe = (endpoint: Endpoint) =>
  endpoint._tag === "unix" ? `unix://${endpoint.path}` : `tcp://${endpoint.host}:${endpoint.port}`

const removeSocket = (endpoint: Endpoint) =>
  endpoint._tag === "unix" ? Effect.promise(() => fs.rm(endpoint.path, { force: true })) : Effect.void

const listen = (server: Server, endpoint: Endpoint) =>
  Effect.tryPromise({
    try: async () => {
      if (endpoint._tag === "unix") {
        await fs.mkdir(path.dirname(endpoint.path), { recursive: true })
        await fs.rm(endpoint.path, { force: true })
      }
      return server.listen(address(endpoint))
    },
    catch: (cause) =>
      new ServerStartError({ message: `cannot listen on ${describe(endpoint)}: ${String(cause)}`, cause })
  })

const drain = (server: Server, endpoint: Endpoint, timeout: Duration.Input) =>
  Effect.promise(() => server.shutdown()).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.sync(() => server.forceShutdown())
    }),
    Effect.andThen(removeSocket(endpoint)),
    Effect.andThen(Effect.logInfo("CSI server stopped", { endpoint: describe(endpoint) }))
  )

/** Serves until the enclosing scope closes; resolves to the bound port (0 for unix sockets). */
export const serveCsi = (
  options: GrpcServerOptions
): Effect.Effect<number, ServerStartError, Scope.Scope | Publisher> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    const fork = (effect: Effect.Effect<void>) => void Effect.runForkWith(context)(effect)
    const identity = yield* makeIdentityService(options.identity)
    const node = yield* makeNodeService({ nodeId: options.nodeId })
    const server = createServer().use(makeRequestLog(fork, yield* Verbosity))
    server.add(IdentityDefinition, identity)
    server.add(NodeDefinition, node)
    const port = yield* Effect.acquireRelease(
      listen(server, options.endpoint),
      () => drain(server, options.endpoint, options.drainTimeout ?? "25 seconds")
    )
    yield* Effect.logInfo("CSI server listening", { endpoint: describe(options.endpoint) })
    return options.endpoint._tag === "unix" ? 0 : port
  })
