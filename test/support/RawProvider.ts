// A provider on a temp unix socket that answers Mount with bytes a test built by hand (e.g. a MountResponse whose
// file path is not UTF-8, which no generated encoder can produce), plus the wire writer for such responses.
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as nodePath from "node:path"
import { BinaryWriter } from "@bufbuild/protobuf/wire"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { createServer, type MethodDefinition } from "nice-grpc"
import { CSIDriverProviderDefinition, MountRequest } from "../../src/gen/provider/v1alpha1/service.js"
import { socketPath } from "../../src/provider/providerSocket.js"

export interface RawFile {
  readonly path: Uint8Array | string
  readonly mode?: number
  readonly contents: Uint8Array | string
}

const bytesOf = (value: Uint8Array | string) => (typeof value === "string" ? new TextEncoder().encode(value) : value)

/** A MountResponse on the wire: `objectVersion` (field 1) then `files` (field 3), paths written as raw bytes. */
export const encodeRawMountResponse = (
  versions: ReadonlyArray<{ readonly id: string; readonly version: string }>,
  files: ReadonlyArray<RawFile>
): Uint8Array => {
  const writer = new BinaryWriter()
  for (const v of versions) writer.uint32(10).fork().uint32(10).string(v.id).uint32(18).string(v.version).join()
  for (const f of files) {
    writer
      .uint32(26)
      .fork()
      .uint32(10)
      .bytes(bytesOf(f.path))
      .uint32(16)
      .int32(f.mode ?? 0o644)
      .uint32(26)
      .bytes(bytesOf(f.contents))
      .join()
  }
  return writer.finish()
}

const mount: MethodDefinition<MountRequest, MountRequest, Uint8Array, Uint8Array, false, false> = {
  path: `/${CSIDriverProviderDefinition.fullName}/${CSIDriverProviderDefinition.methods.mount.name}`,
  requestStream: false,
  responseStream: false,
  requestSerialize: (value) => MountRequest.encode(value).finish(),
  requestDeserialize: (bytes) => MountRequest.decode(bytes),
  responseSerialize: (bytes) => bytes,
  responseDeserialize: (bytes) => bytes,
  options: {}
}

export interface RawProvider {
  readonly dir: string
  readonly name: string
  /** What the next Mount calls answer, byte for byte. */
  readonly answer: (bytes: Uint8Array) => void
}

/** Serves `<temp dir>/<name>.sock` until the scope closes. */
export const makeRawProvider = (name = "raw"): Effect.Effect<RawProvider, never, Scope.Scope> =>
  Effect.gen(function* () {
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => fs.mkdtemp(nodePath.join(os.tmpdir(), "raw-provider-"))),
      (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
    )
    let response: Uint8Array = new Uint8Array()
    const server = createServer()
    server.add({ mount }, { mount: async () => response })
    yield* Effect.acquireRelease(
      Effect.promise(() => server.listen(`unix://${socketPath(dir, name)}`)),
      () => Effect.sync(() => server.forceShutdown())
    )
    return { dir, name, answer: (bytes) => void (response = bytes) }
  })
