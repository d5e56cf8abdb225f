// The real CSI gRPC server on a unix socket in a scope of its own, for tests that close it when they choose.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { type GrpcServerOptions, serveCsi } from "../../src/csi/GrpcServer.js"
import { Publisher } from "../../src/publish/Publisher.js"

/** A publisher that accepts everything and does nothing. */
export const idlePublisher = Layer.succeed(Publisher, {
  publish: () => Effect.void,
  unpublish: () => Effect.void,
  publishRejected: () => Effect.void,
  unpublishRejected: () => Effect.void
})

export const startCsiServer = (
  socket: string,
  publisher: Layer.Layer<Publisher> = idlePublisher,
  timeouts: Pick<GrpcServerOptions, "drainTimeout" | "cleanupTimeout"> = {}
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* serveCsi({
      endpoint: { _tag: "unix", path: socket },
      identity: { name: "secrets-store.csi.k8s.io", vendorVersion: "v9.9.9" },
      nodeId: "node-a",
      drainTimeout: "5 seconds",
      ...timeouts
    }).pipe(Scope.provide(scope), Effect.provide(publisher))
    return scope
  })
