// The driver's client-side definition of the v1alpha1 CSIDriverProvider service: the generated messages, except
// that a Mount response is checked on its wire bytes before it is decoded into objects: the number of files
// (`--max-provider-files`) and that every file path is valid UTF-8 (proto decoding would turn it into U+FFFD).
import { isUtf8 } from "node:buffer"
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire"
import type { MethodDefinition } from "nice-grpc"
import {
  CSIDriverProviderDefinition,
  type DeepPartial,
  MountRequest,
  MountResponse,
  VersionRequest,
  VersionResponse
} from "../gen/provider/v1alpha1/service.js"

/** A Mount response as the wire check left it: decoded, or refused before decoding. */
export type CheckedMountResponse =
  | { readonly _tag: "Decoded"; readonly response: MountResponse; readonly byteLength: number }
  | { readonly _tag: "TooManyFiles"; readonly count: number; readonly limit: number }
  | { readonly _tag: "PathNotUtf8"; readonly index: number }

// Field numbers of proto/provider/v1alpha1/service.proto: MountResponse.files = 3, File.path = 1.
const RESPONSE_FILES = 3
const FILE_PATH = 1

/** Whether every `path` field of one encoded File is valid UTF-8 (no copy, no string). */
const pathIsUtf8 = (file: Uint8Array): boolean => {
  const reader = new BinaryReader(file)
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag()
    if (field === FILE_PATH && wireType === WireType.LengthDelimited) {
      if (!isUtf8(reader.bytes())) return false
    } else {
      reader.skip(wireType, field)
    }
  }
  return true
}

/**
 * One pass over the top-level fields (files are skipped as byte ranges, nothing is allocated per file beyond a
 * view) counts the files and checks their paths; only a response within the limit is decoded. Malformed bytes
 * throw, as the generated decoder does, and grpc-js reports them as a parsing error.
 */
export const checkMountResponse = (bytes: Uint8Array, maxFiles: number): CheckedMountResponse => {
  const reader = new BinaryReader(bytes)
  let count = 0
  let badPath: number | undefined
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag()
    if (field === RESPONSE_FILES && wireType === WireType.LengthDelimited) {
      const file = reader.bytes()
      if (count < maxFiles && badPath === undefined && !pathIsUtf8(file)) badPath = count
      count++
    } else {
      reader.skip(wireType, field)
    }
  }
  if (count > maxFiles) return { _tag: "TooManyFiles", count, limit: maxFiles }
  if (badPath !== undefined) return { _tag: "PathNotUtf8", index: badPath }
  return { _tag: "Decoded", response: MountResponse.decode(bytes), byteLength: bytes.byteLength }
}

/** A unary method: partial messages in, full ones (or the checked Mount response) out. */
type Method<Request, Response, Decoded> = MethodDefinition<
  DeepPartial<Request>,
  Request,
  DeepPartial<Response>,
  Decoded,
  false,
  false
>

const generated = CSIDriverProviderDefinition
const methodPath = (name: string) => `/${generated.fullName}/${name}`

/** Version exactly as generated; Mount with `checkMountResponse` as its response decoder. */
export const providerDefinition = (maxFiles: number) => ({
  version: {
    path: methodPath(generated.methods.version.name),
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: DeepPartial<VersionRequest>) =>
      VersionRequest.encode(VersionRequest.fromPartial(value)).finish(),
    requestDeserialize: (bytes: Uint8Array) => VersionRequest.decode(bytes),
    responseSerialize: (value: DeepPartial<VersionResponse>) =>
      VersionResponse.encode(VersionResponse.fromPartial(value)).finish(),
    responseDeserialize: (bytes: Uint8Array) => VersionResponse.decode(bytes),
    options: {}
  } satisfies Method<VersionRequest, VersionResponse, VersionResponse>,
  mount: {
    path: methodPath(generated.methods.mount.name),
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: DeepPartial<MountRequest>) =>
      MountRequest.encode(MountRequest.fromPartial(value)).finish(),
    requestDeserialize: (bytes: Uint8Array) => MountRequest.decode(bytes),
    responseSerialize: (value: DeepPartial<MountResponse>) =>
      MountResponse.encode(MountResponse.fromPartial(value)).finish(),
    responseDeserialize: (bytes: Uint8Array) => checkMountResponse(bytes, maxFiles),
    options: {}
  } satisfies Method<MountRequest, MountResponse, CheckedMountResponse>
})

export type ProviderDefinition = ReturnType<typeof providerDefinition>
