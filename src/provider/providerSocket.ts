// Where a provider listens (docs/contract.md#provider-sockets, docs/upstream.md#provider-sockets-and-channels): the
// provider-name rule and the `<dir>/<name>.sock` lookup across the socket directories, first existing file wins.
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

const PROVIDER_NAME = /^[a-zA-Z0-9_-]{0,30}$/

/** Upstream's rule; it also keeps a name from escaping the socket directory. */
export const isValidProviderName = (name: string): boolean => PROVIDER_NAME.test(name)

export const socketPath = (dir: string, provider: string): string => nodePath.join(dir, `${provider}.sock`)

/** A socket file as found on disk; `identity` changes when the file is replaced. */
export interface SocketFile {
  readonly path: string
  readonly identity: string
}

// A provider restart unlinks and re-binds: a new inode, or (when the inode number is reused) a new
// change time; nanoseconds, so a quick restart cannot look like the same file.
const identityOf = (stat: { readonly dev: bigint; readonly ino: bigint; readonly ctimeNs: bigint }): string =>
  `${stat.dev}:${stat.ino}:${stat.ctimeNs}`

/** stat(2) of one path: None when it does not exist or cannot be read. */
export const statSocket = (path: string): Effect.Effect<Option.Option<SocketFile>> =>
  Effect.promise(() =>
    fs.stat(path, { bigint: true }).then(
      (stat) => Option.some({ path, identity: identityOf(stat) }),
      () => Option.none<SocketFile>()
    )
  )

/**
 * The socket of `provider`, searching `dirs` in order (the additional directories first, then the
 * provider volume: the caller passes them already ordered). None when no directory holds one.
 * The name must have passed `isValidProviderName`.
 */
export const findProviderSocket = (
  dirs: ReadonlyArray<string>,
  provider: string
): Effect.Effect<Option.Option<SocketFile>> =>
  Effect.gen(function* () {
    for (const dir of dirs) {
      const found = yield* statSocket(socketPath(dir, provider))
      if (Option.isSome(found)) return found
    }
    return Option.none<SocketFile>()
  })
