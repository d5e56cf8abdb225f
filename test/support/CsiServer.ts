// The real CSI gRPC server on a unix socket in a scope of its own, for tests that close it when they choose.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { type GrpcServerOptions, serveCsi } from "../../src/csi/GrpcServer.js"
import { Publisher } from "../../src/publish/Publisher.js"
import { PublishReport } from "../../src/publish/PublishReport.js"

/** A report that goes nowhere. */
export const idleReport = Layer.succeed(PublishReport, {
  succeeded: () => Effect.void,
  failed: () => Effect.void,
  publishRejected: () => Effect.void,
  unpublishSucceeded: Effect.void,
  unpublishFailed: Effect.void,
  publishLogged: () => Effect.void,
  unpublishLogged: () => Effect.void,
  cacheServed: () => Effect.void
})

/** A publisher that accepts everything and does nothing, with a report that goes nowhere. */
export const idlePublisher = Layer.merge(
  Layer.succeed(Publisher, { publish: () => Effect.void, unpublish: () => Effect.void }),
  idleReport
)

/** The CSI edge's neighbours: the Publisher it hands requests to and the report of the ones it refuses. */
export type CsiEdge = Layer.Layer<Publisher | PublishReport>

export const startCsiServer = (
  socket: string,
  edge: CsiEdge = idlePublisher,
  timeouts: Pick<GrpcServerOptions, "drainTimeout" | "cleanupTimeout"> = {}
) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    yield* serveCsi({
      endpoint: { _tag: "unix", path: socket },
      identity: { name: "secrets-store.csi.k8s.io", vendorVersion: "v9.9.9" },
      nodeId: "node-a",
      drainTimeout: "5 seconds",
      ...timeouts
    }).pipe(Scope.provide(scope), Effect.provide(edge))
    return scope
  })
