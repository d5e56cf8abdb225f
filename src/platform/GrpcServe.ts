// A UnaryGrpcServer as a scoped resource, the one listening code of the CSI server and the provider servers: the
// socket's directory created and a stale socket file removed before listening, and on scope close a drain that
// cuts the calls still running after its timeout, then the caller's cleanup, then the removal of the socket file,
// only if it is still the one this server created (a successor may have bound the same path).
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { ListenAddress, UnaryGrpcServer } from "./UnaryGrpcServer.js"

export class GrpcListenError extends Schema.TaggedError<GrpcListenError>()("GrpcListenError", {
  /** `unix://<path>` or `tcp://<host>:<port>`. */
  address: Schema.String,
  cause: Schema.Defect()
}) {}

export interface ServeGrpcOptions {
  readonly server: UnaryGrpcServer
  readonly address: ListenAddress
  /** How long closing waits for in-flight calls before cutting them; 0 cuts them at once, as a crash does. */
  readonly drainTimeout: Duration.Input
  /** Runs once the calls are drained or cut, before the socket file goes (e.g. waiting for handler cleanup). */
  readonly afterDrain?: Effect.Effect<void>
}

export interface ServedGrpc {
  /** The bound TCP port; 0 on a unix socket. */
  readonly port: number
  /** Cuts every connection at once; the scope's close still removes the socket file. */
  readonly forceClose: Effect.Effect<void>
}

export const describeAddress = (address: ListenAddress): string =>
  "path" in address ? `unix://${address.path}` : `tcp://${address.host}:${address.port}`

/** Device, inode and change time: a re-bound path is a new file even when the inode number is reused. */
const identityOf = (path: string): Promise<string | undefined> =>
  fs.stat(path, { bigint: true }).then(
    (stat) => `${stat.dev}:${stat.ino}:${stat.ctimeNs}`,
    () => undefined
  )

const listen = (server: UnaryGrpcServer, address: ListenAddress) =>
  Effect.tryPromise({
    try: async () => {
      if ("path" in address) {
        await fs.mkdir(nodePath.dirname(address.path), { recursive: true })
        await fs.rm(address.path, { force: true })
      }
      const port = await server.listen(address)
      return { port, own: "path" in address ? await identityOf(address.path) : undefined }
    },
    catch: (cause) => new GrpcListenError({ address: describeAddress(address), cause })
  })

const removeOwnSocket = (address: ListenAddress, own: string | undefined) =>
  "path" in address && own !== undefined
    ? Effect.promise(async () => {
        if ((await identityOf(address.path)) === own) await fs.rm(address.path, { force: true })
      })
    : Effect.void

const drain = (server: UnaryGrpcServer, timeout: Duration.Input) =>
  Duration.isZero(Duration.fromInputUnsafe(timeout))
    ? Effect.sync(() => server.forceShutdown())
    : Effect.promise(() => server.shutdown()).pipe(
        Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.sync(() => server.forceShutdown()) })
      )

/** Serves until the enclosing scope closes. */
export const serveGrpc = (options: ServeGrpcOptions): Effect.Effect<ServedGrpc, GrpcListenError, Scope.Scope> =>
  Effect.gen(function* () {
    const { server, address } = options
    const { port } = yield* Effect.acquireRelease(listen(server, address), ({ own }) =>
      drain(server, options.drainTimeout).pipe(
        Effect.andThen(options.afterDrain ?? Effect.void),
        Effect.andThen(removeOwnSocket(address, own))
      )
    )
    return { port, forceClose: Effect.sync(() => server.forceShutdown()) }
  })
