// The kubernetes.io/tls split on real keys and certificates made at test time: every key encoding upstream
// accepts, a two-certificate chain, and the typed failures that name the secret and key but never the PEM.
import { assert, describe, it } from "@effect/vitest"
import { createPrivateKey, generateKeyPairSync, type KeyObject, X509Certificate } from "node:crypto"
import * as Result from "effect/Result"
import { encodePem, tlsPart } from "../../src/sync/TlsSecret.js"
import { certificatePem, ecKey, keyPem, rsaKey } from "./certificates.js"

const where = "secret ns1/web-tls key"
const text = (b: Uint8Array) => Buffer.from(b).toString("latin1")
const bytes = (s: string) => Buffer.from(s, "latin1")

const part = (key: string, pem: string) => {
  const result = tlsPart(key, bytes(pem), `${where} ${key}`)
  if (Result.isFailure(result)) throw new Error(`unexpected failure: ${result.failure.message}`)
  return text(result.success)
}

const failure = (key: string, pem: string) => {
  const result = tlsPart(key, bytes(pem), `${where} ${key}`)
  assert.isTrue(Result.isFailure(result))
  if (!Result.isFailure(result)) throw new Error("unreachable")
  assert.strictEqual(result.failure.reason, "InvalidSecretProviderClass")
  assert.include(result.failure.message, `${where} ${key}`)
  // No base64 run of a PEM body may leak into the message.
  assert.notMatch(result.failure.message, /[A-Za-z0-9+/]{40,}/)
  return result.failure.message
}

const rsa = rsaKey()
const ec = ecKey()
const rsaCert = certificatePem("rsa.example", rsa, rsa)
const ecCert = certificatePem("ec.example", ec, ec)

const sameKey = (pem: string, key: KeyObject) =>
  assert.isTrue(
    createPrivateKey(pem)
      .export({ type: "pkcs8", format: "der" })
      .equals(key.export({ type: "pkcs8", format: "der" }))
  )

describe("tlsPart", () => {
  it("the generated certificates are real X.509 (the fixture itself works)", () => {
    const cert = new X509Certificate(rsaCert)
    assert.strictEqual(cert.subject, "CN=rsa.example")
    assert.isTrue(cert.checkPrivateKey(rsa))
    assert.isTrue(new X509Certificate(ecCert).checkPrivateKey(ec))
  })

  const cases: ReadonlyArray<readonly [string, KeyObject, string, "pkcs1" | "sec1" | "pkcs8", string]> = [
    ["RSA PKCS#1", rsa, rsaCert, "pkcs1", "RSA PRIVATE KEY"],
    ["RSA PKCS#8", rsa, rsaCert, "pkcs8", "RSA PRIVATE KEY"],
    ["EC SEC1", ec, ecCert, "sec1", "EC PRIVATE KEY"],
    ["EC PKCS#8", ec, ecCert, "pkcs8", "EC PRIVATE KEY"]
  ]
  for (const [name, key, cert, encoding, label] of cases) {
    it(`${name} key + certificate: tls.key is ${label}, tls.crt the certificate`, () => {
      const bundle = keyPem(key, encoding) + cert
      const tlsKey = part("tls.key", bundle)
      assert.isTrue(tlsKey.startsWith(`-----BEGIN ${label}-----\n`))
      assert.isTrue(tlsKey.endsWith(`-----END ${label}-----\n`))
      sameKey(tlsKey, key)
      const tlsCrt = part("tls.crt", bundle)
      assert.strictEqual(tlsCrt, cert)
      assert.isTrue(new X509Certificate(tlsCrt).checkPrivateKey(createPrivateKey(tlsKey)))
    })
  }

  it("PKCS#1 output is exactly what an RSA PKCS#1 encoder writes (64-column lines)", () => {
    assert.strictEqual(part("tls.key", keyPem(rsa, "pkcs8") + rsaCert), keyPem(rsa, "pkcs1"))
    assert.strictEqual(part("tls.key", keyPem(ec, "pkcs8") + ecCert), keyPem(ec, "sec1"))
  })

  it("a chain of two certificates: both, in order; the key between them is found", () => {
    const ca = rsaKey()
    const caCert = certificatePem("ca.example", ca, ca)
    const leaf = certificatePem("leaf.example", ec, ca, "ca.example")
    assert.isTrue(new X509Certificate(leaf).verify(new X509Certificate(caCert).publicKey))
    const bundle = leaf + keyPem(ec, "sec1") + caCert
    assert.strictEqual(part("tls.crt", bundle), leaf + caCert)
    sameKey(part("tls.key", bundle), ec)
  })

  it("CRLF line endings and text around the blocks are tolerated; output is LF PEM", () => {
    const bundle = `subject=leaf\r\n${(rsaCert + keyPem(rsa, "pkcs1")).replace(/\n/g, "\r\n")}trailing text\r\n`
    assert.strictEqual(part("tls.crt", bundle), rsaCert)
    assert.strictEqual(part("tls.key", bundle), keyPem(rsa, "pkcs1"))
  })

  it("the last non-certificate block is the key (upstream's rule)", () => {
    const other = rsaKey()
    sameKey(part("tls.key", keyPem(other, "pkcs1") + rsaCert + keyPem(rsa, "pkcs8")), rsa)
  })

  it("a bundle without a private key fails for tls.key", () => {
    assert.include(failure("tls.key", rsaCert), "no PEM private key block")
  })

  it("a bundle without a certificate fails for tls.crt", () => {
    assert.include(failure("tls.crt", keyPem(rsa, "pkcs1")), "no PEM CERTIFICATE block")
  })

  it("a block that is no key in any encoding fails, naming its label", () => {
    const junk = encodePem("PRIVATE KEY", Buffer.from("not a key at all, just some bytes"))
    assert.include(
      failure("tls.key", rsaCert + junk),
      "the PRIVATE KEY block is not a PKCS#1, PKCS#8 or SEC1 private key"
    )
  })

  it("an Ed25519 key is refused: only RSA and EC keys are supported", () => {
    const ed = generateKeyPairSync("ed25519").privateKey
    assert.include(failure("tls.key", rsaCert + keyPem(ed, "pkcs8")), "only RSA and EC keys are supported")
  })

  it("keys other than tls.crt and tls.key are refused for the TLS type", () => {
    assert.include(failure("ca.crt", rsaCert + keyPem(rsa, "pkcs1")), "only tls.key and tls.crt")
  })

  it("encodePem wraps base64 at 64 columns like Go's pem.EncodeToMemory", () => {
    const pem = encodePem("X", Buffer.alloc(100, 1))
    const lines = pem.split("\n")
    assert.deepStrictEqual(
      lines.map((l) => l.length),
      [17, 64, 64, 8, 15, 0]
    )
  })
})
