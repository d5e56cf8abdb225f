// A real v1alpha1 provider on a temp unix socket whose answers a test sets per call: files and
// versions, an error code, a gRPC status, a hang, a delay, a crash. It records what it received
// (requests and the `:authority` of every call) and can be stopped, crashed and restarted in place.
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { ServerError, Status } from "nice-grpc"
import type {
  DeepPartial,
  MountRequest,
  MountResponse,
  VersionRequest,
  VersionResponse
} from "../../src/gen/provider/v1alpha1/service.js"
import { type ProviderServer, type ProviderServerError, serveProvider } from "../../src/provider/ProviderServer.js"
import { socketPath } from "../../src/provider/providerSocket.js"

export interface MountCallContext {
  readonly signal: AbortSignal
  /** Cuts every connection and leaves a dead socket file behind, as a crashed process does. */
  readonly crash: () => Promise<void>
}

/** How the provider answers one Mount call. */
export type MountBehaviour = (request: MountRequest, context: MountCallContext) => Promise<DeepPartial<MountResponse>>

export interface TestFile {
  readonly path: string
  readonly contents: string | Uint8Array
  readonly mode?: number
}

/** Answers these files, one ObjectVersion `secret/<path>` = `v1` per file unless versions are given. */
export const respondFiles =
  (
    files: ReadonlyArray<TestFile>,
    versions?: ReadonlyArray<{ readonly id: string; readonly version: string }>
  ): MountBehaviour =>
  async () => ({
    objectVersion: [...(versions ?? files.map((f) => ({ id: `secret/${f.path}`, version: "v1" })))],
    files: files.map((f) => ({
      path: f.path,
      mode: f.mode ?? 0o644,
      contents: typeof f.contents === "string" ? new Uint8Array(Buffer.from(f.contents)) : f.contents
    }))
  })

/** Answers exactly this response. */
export const respond =
  (response: DeepPartial<MountResponse>): MountBehaviour =>
  async () =>
    response

/** Fails the call with a gRPC status. */
export const failWith =
  (status: Status, details: string): MountBehaviour =>
  async () => {
    throw new ServerError(status, details)
  }

/** Never answers (until the client gives up and cancels). */
export const hang: MountBehaviour = (_request, { signal }) =>
  new Promise((_resolve, reject) =>
    signal.addEventListener("abort", () => reject(new ServerError(Status.CANCELLED, "cancelled")), { once: true })
  )

/** Waits, then behaves like `then`. */
export const delay =
  (ms: number, then: MountBehaviour): MountBehaviour =>
  async (request, context) => {
    await new Promise((resolve) => setTimeout(resolve, ms))
    return then(request, context)
  }

/** Crashes the server in the middle of the call. */
export const crashDuringCall: MountBehaviour = async (_request, { crash }) => {
  await crash()
  return new Promise(() => {})
}

export interface TestProvider {
  readonly name: string
  readonly dir: string
  readonly socketPath: string
  /** The answer of every Mount call that finds no queued one. */
  readonly onMount: (behaviour: MountBehaviour) => void
  /** One-shot answers, used in order before the default one. */
  readonly queueMount: (...behaviours: ReadonlyArray<MountBehaviour>) => void
  readonly onVersion: (answer: (request: VersionRequest) => Promise<DeepPartial<VersionResponse>>) => void
  readonly mountRequests: () => ReadonlyArray<MountRequest>
  readonly versionRequests: () => ReadonlyArray<VersionRequest>
  /** The `:authority` of every call received, in order. */
  readonly authorities: () => ReadonlyArray<string>
  /** Graceful shutdown; the socket file is removed. */
  readonly stop: Effect.Effect<void>
  /** Abrupt shutdown; a dead socket file stays behind (connections are refused). */
  readonly crash: Effect.Effect<void>
  /** A new server on the same socket path (a new inode), keeping behaviours and recordings. */
  readonly restart: Effect.Effect<void, ProviderServerError>
}

export interface TestProviderOptions {
  /** Socket directory; a fresh temp dir (removed with the scope) unless given. */
  readonly dir?: string
  readonly name?: string
}

const notConfigured: MountBehaviour = failWith(Status.UNIMPLEMENTED, "test provider: no Mount behaviour set")

const defaultVersion = async (): Promise<DeepPartial<VersionResponse>> => ({
  version: "v1alpha1",
  runtimeName: "test-provider",
  runtimeVersion: "0.0.1"
})

const makeTempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(nodePath.join(os.tmpdir(), "provider-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

const waitUntilGone = async (path: string) => {
  for (let i = 0; i < 200; i++) {
    if (
      !(await fs.stat(path).then(
        () => true,
        () => false
      ))
    )
      return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Starts a test provider that lives until the enclosing scope closes. */
export const makeTestProvider = (
  options: TestProviderOptions = {}
): Effect.Effect<TestProvider, ProviderServerError, Scope.Scope> =>
  Effect.gen(function* () {
    const dir = options.dir ?? (yield* makeTempDir)
    const name = options.name ?? "test"
    const path = socketPath(dir, name)
    const queue: Array<MountBehaviour> = []
    let fallback = notConfigured
    let version: (request: VersionRequest) => Promise<DeepPartial<VersionResponse>> = defaultVersion
    const mounts: Array<MountRequest> = []
    const versions: Array<VersionRequest> = []
    const hosts: Array<string> = []
    let running: { readonly scope: Scope.Closeable; readonly server: ProviderServer } | undefined

    let crashing: Promise<void> | undefined
    const crashNow = async () => {
      const current = running
      running = undefined
      if (current === undefined) return
      await Effect.runPromise(current.server.forceClose)
      // Node unlinks the socket once the listener has closed; wait for that, then leave a regular
      // file at the path: connect(2) to it fails with ECONNREFUSED, like a dead provider's socket.
      await waitUntilGone(path)
      await fs.writeFile(path, "")
      await Effect.runPromise(Scope.close(current.scope, Exit.void))
    }
    // Several callers (a handler, the test) may ask for the same crash; all wait for its end.
    const crash = () => (crashing ??= crashNow())

    const implementation = {
      version: async (request: VersionRequest) => {
        versions.push(request)
        return version(request)
      },
      mount: async (request: MountRequest, context: { readonly signal: AbortSignal }) => {
        mounts.push(request)
        const behaviour = queue.shift() ?? fallback
        return behaviour(request, { signal: context.signal, crash })
      }
    }

    const start = Effect.gen(function* () {
      const scope = yield* Scope.make()
      const server = yield* serveProvider({
        socketPath: path,
        implementation,
        drainTimeout: "1 second",
        interceptors: [
          (_method, call) => {
            hosts.push(call.getHost())
            return call
          }
        ]
      }).pipe(
        Scope.provide(scope),
        Effect.onError(() => Scope.close(scope, Exit.void))
      )
      running = { scope, server }
      crashing = undefined
    })

    const stop = Effect.suspend(() => {
      const current = running
      running = undefined
      return current === undefined ? Effect.void : Scope.close(current.scope, Exit.void)
    })

    yield* Effect.acquireRelease(start, () => stop)

    return {
      name,
      dir,
      socketPath: path,
      onMount: (behaviour) => void (fallback = behaviour),
      queueMount: (...behaviours) => void queue.push(...behaviours),
      onVersion: (answer) => void (version = answer),
      mountRequests: () => [...mounts],
      versionRequests: () => [...versions],
      authorities: () => [...hosts],
      stop,
      crash: Effect.promise(crash),
      restart: Effect.andThen(stop, start)
    }
  })
