// checkMountResponse on hand-built wire bytes: the file count is known before any file is decoded, paths that are
// not UTF-8 are found by index, and a response within the limits decodes exactly as the generated decoder does.
import { BinaryWriter } from "@bufbuild/protobuf/wire"
import { assert, describe, it } from "@effect/vitest"
import { MountResponse } from "../../src/gen/provider/v1alpha1/service.js"
import { checkMountResponse } from "../../src/provider/ProviderDefinition.js"
import { encodeRawMountResponse } from "../support/RawProvider.js"

const v = [{ id: "a", version: "1" }]

describe("checkMountResponse", () => {
  it("counts files without decoding them: a garbage file past the limit gives TooManyFiles, not a parse error", () => {
    const good = encodeRawMountResponse(v, [
      { path: "a", contents: "1" },
      { path: "b", contents: "2" }
    ])
    // A third file whose path claims 127 bytes that are not there: the generated decoder cannot read it.
    const garbage = new BinaryWriter()
      .uint32(26)
      .bytes(new Uint8Array([0x0a, 0x7f]))
      .finish()
    const bytes = new Uint8Array([...good, ...garbage])
    assert.throws(() => MountResponse.decode(bytes))
    assert.deepStrictEqual(checkMountResponse(bytes, 2), { _tag: "TooManyFiles", count: 3, limit: 2 })
  })

  it("names the first file whose path is not UTF-8", () => {
    const bytes = encodeRawMountResponse(v, [
      { path: "ok", contents: "" },
      { path: "é", contents: "" },
      { path: new Uint8Array([0xc3]), contents: "" },
      { path: new Uint8Array([0xff, 0xfe]), contents: "" }
    ])
    assert.deepStrictEqual(checkMountResponse(bytes, 10), { _tag: "PathNotUtf8", index: 2 })
  })

  it("within the limits: the generated decoding and the wire size", () => {
    const bytes = encodeRawMountResponse(v, [{ path: "d/f", mode: 0o600, contents: "secret" }])
    const checked = checkMountResponse(bytes, 1)
    const expected = { _tag: "Decoded" as const, response: MountResponse.decode(bytes), byteLength: bytes.byteLength }
    assert.deepStrictEqual(checked, expected)
  })
})
