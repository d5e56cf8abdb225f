import { assert, describe, it } from "@effect/vitest"
import * as Redacted from "effect/Redacted"
import { encodeMountRequest, goJsonStringMap } from "../../src/provider/MountRequestEncoding.js"

const noSecrets = Redacted.make<Readonly<Record<string, string>>>({})

describe("encodeMountRequest", () => {
  it("merges parameters, volume context on top, then the tokens; keys sorted; secrets null when empty", () => {
    const request = encodeMountRequest({
      parameters: { objects: "array:\n- |\n  objectName: foo", keyvaultName: "kv", usePodIdentity: "false" },
      volumeContext: {
        keyvaultName: "override",
        "csi.storage.k8s.io/pod.name": "web-0",
        secretProviderClass: "spc"
      },
      tokens: Redacted.make('{"aud":{"token":"t","expirationTimestamp":"x"}}'),
      secrets: noSecrets,
      targetPath: "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/v/mount"
    })
    assert.strictEqual(
      request.attributes,
      String.raw`{"csi.storage.k8s.io/pod.name":"web-0",` +
        String.raw`"csi.storage.k8s.io/serviceAccount.tokens":` +
        String.raw`"{\"aud\":{\"token\":\"t\",\"expirationTimestamp\":\"x\"}}",` +
        String.raw`"keyvaultName":"override","objects":"array:\n- |\n  objectName: foo",` +
        String.raw`"secretProviderClass":"spc","usePodIdentity":"false"}`
    )
    assert.strictEqual(request.secrets, "null")
    assert.strictEqual(request.permission, "420")
    assert.strictEqual(request.targetPath, "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/v/mount")
    assert.deepStrictEqual(request.currentObjectVersion, [])
  })

  it("leaves the tokens key out when there are no tokens", () => {
    const request = encodeMountRequest({
      parameters: { a: "1" },
      volumeContext: {},
      secrets: noSecrets,
      targetPath: "/t"
    })
    assert.strictEqual(request.attributes, `{"a":"1"}`)
  })

  it("encodes the secrets map like Go, HTML characters escaped", () => {
    const request = encodeMountRequest({
      parameters: {},
      volumeContext: {},
      secrets: Redacted.make({ username: "u", password: "p<w>&" }),
      targetPath: "/t"
    })
    assert.strictEqual(request.secrets, String.raw`{"password":"p\u003cw\u003e\u0026","username":"u"}`)
    assert.strictEqual(request.attributes, "{}")
  })

  it("escapes <>&, control characters, U+2028/U+2029 and sorts keys by UTF-8 bytes", () => {
    const encoded = goJsonStringMap({
      é: "ü\u2028\u2029",
      "a<b": "x>y&z",
      ctl: '\u0001\t\n\r\b\f"\\\u007f',
      Z: "upper",
      "😀": "emoji",
      "｡": "halfwidth"
    })
    // UTF-16 order would put "😀" (D83D) before "｡" (FF61); Go's byte order puts EF BD A1 before F0 9F.
    assert.strictEqual(
      encoded,
      String.raw`{"Z":"upper","a\u003cb":"x\u003ey\u0026z","ctl":"\u0001\t\n\r\b\f\"\\` +
        "\u007f" +
        `",` +
        String.raw`"é":"ü\u2028\u2029","｡":"halfwidth","😀":"emoji"}`
    )
  })

  it("replaces a lone surrogate like Go replaces invalid UTF-8", () => {
    assert.strictEqual(goJsonStringMap({ k: "a\ud800b" }), String.raw`{"k":"a\ufffdb"}`)
  })

  it("produces JSON that parses back to the merged map", () => {
    const request = encodeMountRequest({
      parameters: { "we<ird": 'va"l\u2028ue', n: "ü" },
      volumeContext: { n: "überschrieben" },
      secrets: Redacted.make({ k: "v" }),
      targetPath: "/t"
    })
    assert.deepStrictEqual(JSON.parse(request.attributes), { "we<ird": 'va"l\u2028ue', n: "überschrieben" })
    assert.deepStrictEqual(JSON.parse(request.secrets), { k: "v" })
  })
})
