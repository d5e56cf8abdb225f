// A provider's own words (its error code, gRPC status details, version strings) made safe to put in a message,
// a log line, an Event or a status: clipped to a fixed length, control and other non-printable characters
// escaped, so a hostile provider can neither flood the node's outputs nor forge lines or terminal colours.

// Controls (C0, DEL, C1), format characters (bidi overrides, zero-width), lone surrogates, private-use and
// unassigned code points, and the Unicode line and paragraph separators.
const NON_PRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]$/u

const NAMED: Readonly<Record<string, string>> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" }

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0")

/** One code point as it is shown: itself, or an escape (`\n`, `\x1b`, `\u202e`, `\u{10ffff}`). */
const shown = (char: string): string => {
  const named = NAMED[char]
  if (named !== undefined) return named
  if (!NON_PRINTABLE.test(char)) return char
  const code = char.codePointAt(0)!
  return code <= 0xff ? `\\x${hex(code, 2)}` : code <= 0xffff ? `\\u${hex(code, 4)}` : `\\u{${hex(code, 1)}}`
}

/**
 * `text` with every non-printable character escaped (and `\` doubled, so escapes are unambiguous), at most `max`
 * characters; a longer text is cut at a whole character and ends in `…(<length> chars)`. Only the first `max`
 * characters of the input are looked at, so a huge text costs no more than a short one.
 */
export const printable = (text: string, max: number): string => {
  let out = ""
  for (const char of text) {
    const next = shown(char)
    if (out.length + next.length > max) return `${out}…(${text.length} chars)`
    out += next
  }
  return out
}

/** Longest provider error code kept (upstream uses it as a metric label; ours stays in messages). */
export const MAX_CODE_CHARS = 128
/** Longest gRPC status details or call failure text kept from a provider. */
export const MAX_DETAILS_CHARS = 512
