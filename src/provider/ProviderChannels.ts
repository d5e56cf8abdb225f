// One gRPC channel per provider, kept for the process lifetime like upstream's client cache, but self-healing
// (docs/contract.md#re-dialled-provider-channels, upstream #1821/#1901): re-dialled when the socket file was replaced
// or the connection broke, and all closed when the owning scope closes.
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { type Channel, type Client, createChannel, createClient } from "nice-grpc"
import { providerDefinition, type ProviderDefinition } from "./ProviderDefinition.js"
import { invalidProviderName, providerNotFound, type ProviderCallError } from "./ProviderCallError.js"
import { findProviderSocket, isValidProviderName, type SocketFile } from "./providerSocket.js"

export interface ChannelOptions {
  /** Socket directories in search order: additional dirs first, then the provider volume. */
  readonly providerDirs: ReadonlyArray<string>
  readonly maxCallRecvMsgSize: number
  /** `--max-provider-files`: a Mount response with more files is refused before it is decoded. */
  readonly maxProviderFiles: number
}

/** A channel and the socket file it was dialled for. */
export interface DialledProvider {
  readonly socket: SocketFile
  readonly channel: Channel
  readonly client: Client<ProviderDefinition>
}

export interface ProviderChannels {
  /** The cached channel, re-dialled first when the socket file is not the one it was dialled for. */
  readonly acquire: (provider: string) => Effect.Effect<DialledProvider, ProviderCallError>
  /** Drops a broken channel (unless it was already replaced), so the next call dials afresh. */
  readonly discard: (provider: string, dialled: DialledProvider) => Effect.Effect<void>
  /** Forgets a provider that is gone from the node: out of `providers`, its channel closed. */
  readonly forget: (provider: string) => Effect.Effect<void>
  /** Names of every provider dialled and not forgotten (a discarded channel is re-dialled on its next call). */
  readonly providers: Effect.Effect<ReadonlyArray<string>>
}

const dial = (socket: SocketFile, options: ChannelOptions, definition: ProviderDefinition): DialledProvider => {
  const channel = createChannel(`unix://${socket.path}`, undefined, {
    // The e2e provider (and others) reject any other :authority (docs/upstream.md#provider-sockets-and-channels).
    "grpc.default_authority": "localhost",
    "grpc.max_receive_message_length": options.maxCallRecvMsgSize,
    // grpc-js shares subchannels process-wide by default; a re-dial must not inherit a broken one
    // still sitting in reconnect backoff.
    "grpc.use_local_subchannel_pool": 1
  })
  return { socket, channel, client: createClient(definition, channel) }
}

export const makeProviderChannels = (options: ChannelOptions): Effect.Effect<ProviderChannels, never, Scope.Scope> =>
  Effect.gen(function* () {
    const cache = new Map<string, DialledProvider>()
    const known = new Set<string>()
    const definition = providerDefinition(options.maxProviderFiles)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const dialled of cache.values()) dialled.channel.close()
        cache.clear()
      })
    )

    const replace = (provider: string, socket: SocketFile) =>
      Effect.sync(() => {
        const current = cache.get(provider)
        // The stat ran asynchronously: another call may already have dialled this very file.
        if (current !== undefined && current.socket.identity === socket.identity) return current
        current?.channel.close()
        const dialled = dial(socket, options, definition)
        cache.set(provider, dialled)
        known.add(provider)
        return dialled
      }).pipe(Effect.tap(() => Effect.logDebug("dialled provider", { provider, socket: socket.path })))

    const acquire = Effect.fn("ProviderChannels.acquire")(function* (provider: string) {
      if (!isValidProviderName(provider)) return yield* Effect.fail(invalidProviderName(provider))
      const found = yield* findProviderSocket(options.providerDirs, provider)
      if (Option.isNone(found)) return yield* Effect.fail(providerNotFound(provider))
      const current = cache.get(provider)
      if (current !== undefined && current.socket.identity === found.value.identity) return current
      return yield* replace(provider, found.value)
    })

    const discard = (provider: string, dialled: DialledProvider) =>
      Effect.sync(() => {
        if (cache.get(provider) !== dialled) return
        cache.delete(provider)
        dialled.channel.close()
      })

    // A provider whose socket left every directory (uninstalled from the node): no longer checked for health. The
    // next Mount call for it finds it again.
    const forget = (provider: string) =>
      Effect.sync(() => {
        known.delete(provider)
        cache.get(provider)?.channel.close()
        cache.delete(provider)
      })

    return { acquire, discard, forget, providers: Effect.sync(() => [...known]) }
  })
