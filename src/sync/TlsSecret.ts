// The `kubernetes.io/tls` split (docs/upstream.md#tls-split): a PEM bundle becomes `tls.crt` (every CERTIFICATE block)
// and `tls.key` (the last other block, re-encoded as PKCS#1 for RSA or SEC1 for EC, whatever form it came in).
// PKCS#12/PFX input (upstream's fallback) is not supported: node:crypto has no PKCS#12 parser.
import { createPrivateKey, type KeyObject } from "node:crypto"
import * as Result from "effect/Result"
import { invalidSecretObject, type SecretSyncError } from "./SyncError.js"

export const tlsSecretType = "kubernetes.io/tls"
const tlsCertKey = "tls.crt"
const tlsPrivateKeyKey = "tls.key"

interface PemBlock {
  readonly label: string
  readonly der: Buffer
}

// Like Go's pem.Decode: a block is BEGIN/END with the same label; text between blocks is ignored; headers
// ("Proc-Type: ...") are skipped, base64 whitespace is ignored.
const blockPattern = /-----BEGIN ([^-\r\n]+)-----\r?\n([\s\S]*?)-----END \1-----/g

const pemBlocks = (text: string): ReadonlyArray<PemBlock> =>
  [...text.matchAll(blockPattern)].map((m) => {
    const body = m[2]!
      .split(/\r?\n/)
      .filter((line) => !line.includes(":"))
      .join("")
    return { label: m[1]!, der: Buffer.from(body.replace(/\s+/g, ""), "base64") }
  })

/** Go's pem.EncodeToMemory: 64-column base64 lines, a trailing newline. */
export const encodePem = (label: string, der: Uint8Array): string => {
  const lines =
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.map((l) => `${l}\n`).join("")}-----END ${label}-----\n`
}

const certificateLabel = "CERTIFICATE"

// Go tries PKCS#1, PKCS#8 and SEC1 on the block's bytes whatever its label says; so does this.
const parseKey = (der: Buffer): KeyObject | undefined => {
  for (const type of ["pkcs1", "pkcs8", "sec1"] as const) {
    try {
      return createPrivateKey({ key: der, format: "der", type })
    } catch {
      // not this encoding: try the next one
    }
  }
  return undefined
}

const certificates = (blocks: ReadonlyArray<PemBlock>, where: string): Result.Result<Uint8Array, SecretSyncError> => {
  const certs = blocks.filter((b) => b.label === certificateLabel)
  if (certs.length === 0) return Result.fail(invalidSecretObject(`${where}: no PEM CERTIFICATE block found`))
  return Result.succeed(Buffer.from(certs.map((b) => encodePem(certificateLabel, b.der)).join(""), "latin1"))
}

const privateKey = (blocks: ReadonlyArray<PemBlock>, where: string): Result.Result<Uint8Array, SecretSyncError> => {
  const last = blocks.filter((b) => b.label !== certificateLabel).at(-1)
  if (last === undefined) return Result.fail(invalidSecretObject(`${where}: no PEM private key block found`))
  const key = parseKey(last.der)
  if (key === undefined) {
    return Result.fail(
      invalidSecretObject(`${where}: the ${last.label} block is not a PKCS#1, PKCS#8 or SEC1 private key`)
    )
  }
  if (key.asymmetricKeyType === "rsa") return Result.succeed(Buffer.from(key.export({ type: "pkcs1", format: "pem" })))
  if (key.asymmetricKeyType === "ec") return Result.succeed(Buffer.from(key.export({ type: "sec1", format: "pem" })))
  return Result.fail(
    invalidSecretObject(
      `${where}: unsupported private key type ${String(key.asymmetricKeyType)} (only RSA and EC keys are supported)`
    )
  )
}

/**
 * The value of `key` (`tls.crt` or `tls.key`) of a TLS Secret, cut from a mounted PEM file. `where` names the
 * Secret and key for messages (e.g. `secret ns/web-tls key tls.key`); the file's text never reaches one.
 */
export const tlsPart = (key: string, pem: Uint8Array, where: string): Result.Result<Uint8Array, SecretSyncError> => {
  if (key !== tlsCertKey && key !== tlsPrivateKeyKey) {
    return Result.fail(
      invalidSecretObject(
        `${where}: key not supported for type ${tlsSecretType}, only ${tlsPrivateKeyKey} and ${tlsCertKey} are`
      )
    )
  }
  const blocks = pemBlocks(Buffer.from(pem).toString("latin1"))
  return key === tlsCertKey ? certificates(blocks, where) : privateKey(blocks, where)
}
