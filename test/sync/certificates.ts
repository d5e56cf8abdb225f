// Test certificates made at test time with node:crypto only: node:crypto signs but cannot build an X.509
// certificate, so this writes the few DER structures of a minimal v3 certificate itself (no openssl needed).
import { createPublicKey, generateKeyPairSync, type KeyObject, sign } from "node:crypto"

const tlv = (tag: number, body: Buffer): Buffer => {
  const n = body.length
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff])
  return Buffer.concat([Buffer.from([tag]), len, body])
}
const seq = (...parts: Array<Buffer>) => tlv(0x30, Buffer.concat(parts))
const set = (...parts: Array<Buffer>) => tlv(0x31, Buffer.concat(parts))
const int = (n: number) => tlv(0x02, Buffer.from([n]))
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"))
const utcTime = (s: string) => tlv(0x17, Buffer.from(s, "ascii"))
const bitString = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]))
const nullValue = Buffer.from([0x05, 0x00])

const oid = (dotted: string): Buffer => {
  const [a, b, ...rest] = dotted.split(".").map(Number)
  const bytes = [a! * 40 + b!]
  for (const n of rest) {
    const chunk = [n & 0x7f]
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80)
    bytes.push(...chunk)
  }
  return tlv(0x06, Buffer.from(bytes))
}

const name = (cn: string) => seq(set(seq(oid("2.5.4.3"), utf8(cn))))

const signatureAlgorithm = (key: KeyObject) =>
  key.asymmetricKeyType === "rsa" ? seq(oid("1.2.840.113549.1.1.11"), nullValue) : seq(oid("1.2.840.10045.4.3.2"))

/** A certificate for `subject`'s public key, signed by `issuerKey` (self-signed when it is the subject's key). */
export const certificatePem = (cn: string, subjectKey: KeyObject, issuerKey: KeyObject, issuer = cn): string => {
  const spki = createPublicKey(subjectKey).export({ type: "spki", format: "der" })
  const tbs = seq(
    tlv(0xa0, int(2)),
    int(1),
    signatureAlgorithm(issuerKey),
    name(issuer),
    seq(utcTime("250101000000Z"), utcTime("350101000000Z")),
    name(cn),
    spki
  )
  const signature = sign("sha256", tbs, issuerKey)
  const der = seq(tbs, signatureAlgorithm(issuerKey), bitString(signature))
  const lines = der.toString("base64").match(/.{1,64}/g)!
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`
}

export const rsaKey = () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey
export const ecKey = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey

/** The key as PEM in the given encoding. */
export const keyPem = (key: KeyObject, type: "pkcs1" | "sec1" | "pkcs8"): string =>
  String(key.export({ type, format: "pem" }))
