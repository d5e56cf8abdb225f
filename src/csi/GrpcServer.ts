// The CSI gRPC server as a scoped resource: listens on the endpoint (a stale socket file is removed first, the
// backlog as deep as the node allows), serves Identity and Node, and on scope close drains in-flight calls before
// removing its socket; calls still running then are cancelled and the close waits for their cleanup, so SIGTERM
// never leaves a publish half-done.
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { IdentityDefinition, NodeDefinition } from "../gen/csi/v1/csi.js"
import type { Publisher } from "../publish/Publisher.js"
import type { PublishReport } from "../publish/PublishReport.js"
import { makeIdentityService, type PluginIdentity } from "./IdentityService.js"
import { InFlightHandlers, settleHandlers } from "./HandlerRunner.js"
import { makeNodeService } from "./NodeService.js"
import type { Endpoint } from "../config/DriverConfig.js"
import { Verbosity } from "../config/Logging.js"
import { makeEffectBridge } from "../platform/EffectBridge.js"
import { describeAddress, serveGrpc } from "../platform/GrpcServe.js"
import { createUnaryGrpcServer, type ListenAddress } from "../platform/UnaryGrpcServer.js"
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
  /** How long shutdown then waits for the cancelled calls' cleanup (tmpfs rollback, file removal). */
  readonly cleanupTimeout?: Duration.Input
}

const address = (endpoint: Endpoint): ListenAddress =>
  endpoint._tag === "unix" ? { path: endpoint.path } : { host: endpoint.host, port: endpoint.port }

/** Serves until the enclosing scope closes; resolves to the bound port (0 for unix sockets). */
export const serveCsi = (
  options: GrpcServerOptions
): Effect.Effect<number, ServerStartError, Scope.Scope | Publisher | PublishReport> =>
  Effect.gen(function* () {
    const bridge = yield* makeEffectBridge()
    const fork = (effect: Effect.Effect<void>) => void bridge.fork(effect)
    const identity = yield* makeIdentityService(options.identity)
    const handlers: InFlightHandlers["Service"] = new Set()
    const node = yield* makeNodeService({ nodeId: options.nodeId }).pipe(
      Effect.provideService(InFlightHandlers, handlers)
    )
    const server = createUnaryGrpcServer({ middleware: makeRequestLog(fork, yield* Verbosity) })
    server.add(IdentityDefinition, identity)
    server.add(NodeDefinition, node)
    const listening = address(options.endpoint)
    const endpoint = describeAddress(listening)
    // The defaults fit kubelet's 30 s grace period before SIGKILL: 25 s of drain, then 4 s of cleanup.
    const { port } = yield* serveGrpc({
      server,
      address: listening,
      drainTimeout: options.drainTimeout ?? "25 seconds",
      afterDrain: Effect.suspend(() => settleHandlers(handlers, options.cleanupTimeout ?? "4 seconds")).pipe(
        Effect.ensuring(Effect.logInfo("CSI server stopped", { endpoint }))
      )
    }).pipe(
      Effect.mapError(
        (error) =>
          new ServerStartError({
            message: `cannot listen on ${error.address}: ${String(error.cause)}`,
            cause: error.cause
          })
      )
    )
    yield* Effect.logInfo("CSI server listening", { endpoint })
    return port
  })
