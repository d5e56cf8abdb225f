// The driver -> provider MountRequest, byte-for-byte as upstream's Go driver builds it
// (docs/upstream.md#mount-request-encoding): attributes and secrets are Go `encoding/json` encodings of a
// map[string]string. Redacted secrets are unwrapped here and nowhere else.
import * as Redacted from "effect/Redacted"
import { TOKENS_KEY } from "../domain/VolumeContext.js"
import type { MountRequest } from "../gen/provider/v1alpha1/service.js"

/** The attribute key under which kubelet's service-account tokens reach the provider. */

/** The default file mode, 0644, as the JSON number upstream always sends. */
export const DEFAULT_PERMISSION = "420"

export interface MountRequestInput {
  /** SPC `spec.parameters`. */
  readonly parameters: Readonly<Record<string, string>>
  /** kubelet's volume_context; every entry overrides a parameter of the same name. */
  readonly volumeContext: Readonly<Record<string, string>>
  /** kubelet's service-account tokens JSON, when the CSIDriver asks for tokens. */
  readonly tokens?: Redacted.Redacted<string> | undefined
  /** The CSI `secrets` map (nodePublishSecretRef data). */
  readonly secrets: Redacted.Redacted<Readonly<Record<string, string>>>
  readonly targetPath: string
}

const HEX = "0123456789abcdef"

const unicodeEscape = (code: number): string =>
  `\\u${HEX[(code >> 12) & 0xf]}${HEX[(code >> 8) & 0xf]}${HEX[(code >> 4) & 0xf]}${HEX[code & 0xf]}`

const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  0x08: "\\b",
  0x09: "\\t",
  0x0a: "\\n",
  0x0c: "\\f",
  0x0d: "\\r",
  0x22: '\\"',
  0x5c: "\\\\"
}

/** One code point as Go's encoder (escapeHTML on) writes it. */
const encodeCodePoint = (code: number): string => {
  const short = SHORT_ESCAPES[code]
  if (short !== undefined) return short
  if (code < 0x20 || code === 0x3c || code === 0x3e || code === 0x26) return unicodeEscape(code)
  if (code === 0x2028 || code === 0x2029) return unicodeEscape(code)
  // A lone surrogate cannot be UTF-8; Go replaces invalid UTF-8 with U+FFFD.
  if (code >= 0xd800 && code <= 0xdfff) return "\\ufffd"
  return String.fromCodePoint(code)
}

/** A JSON string literal exactly as Go's `encoding/json` writes it. */
const goJsonString = (value: string): string => {
  let out = '"'
  for (const char of value) out += encodeCodePoint(char.codePointAt(0)!)
  return `${out}"`
}

// Go sorts map keys with sort.Strings: byte order of the UTF-8 encodings, not UTF-16 code units.
const byUtf8Bytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"))

/** `json.Marshal(map[string]string)`: sorted keys, no spaces, HTML-safe escapes. */
export const goJsonStringMap = (map: Readonly<Record<string, string>>): string =>
  "{" +
  Object.keys(map)
    .sort(byUtf8Bytes)
    .map((key) => `${goJsonString(key)}:${goJsonString(map[key]!)}`)
    .join(",") +
  "}"

/** Parameters, then volume context on top, then the tokens (upstream's merge order). */
const mergedAttributes = (input: MountRequestInput): Record<string, string> => {
  const attributes: Record<string, string> = { ...input.parameters, ...input.volumeContext }
  if (input.tokens !== undefined) attributes[TOKENS_KEY] = Redacted.value(input.tokens)
  return attributes
}

/** Upstream sends a nil Go map, i.e. `null`, when kubelet passed no secrets. */
const encodeSecrets = (secrets: Readonly<Record<string, string>>): string =>
  Object.keys(secrets).length === 0 ? "null" : goJsonStringMap(secrets)

export const encodeMountRequest = (input: MountRequestInput): MountRequest => ({
  attributes: goJsonStringMap(mergedAttributes(input)),
  secrets: encodeSecrets(Redacted.value(input.secrets)),
  targetPath: input.targetPath,
  permission: DEFAULT_PERMISSION,
  currentObjectVersion: []
})
