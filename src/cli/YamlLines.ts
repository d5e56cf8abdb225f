// Where in a block-style YAML document a path such as spec.secretObjects[1].type is written, so `validate`
// can say `file:line:`. Effect's Yaml parser keeps no positions; this reads indentation only, and falls back
// to the deepest part of the path it found (at worst the document's first line) on anything unusual.

export type YamlPath = ReadonlyArray<string | number>

interface Scope {
  /** First line of the scope (a `- ` line for a sequence item), 0-based. */
  readonly start: number
  /** One past the last line. */
  readonly end: number
}

const isContent = (line: string) => line.trim() !== "" && !line.trimStart().startsWith("#")
const indentOf = (line: string) => line.length - line.trimStart().length
const isDash = (line: string) => /^\s*-(\s|$)/.test(line)

/** The key a line defines and the column it starts at, after any `- ` item markers. */
const keyAt = (line: string): { readonly col: number; readonly key: string } | undefined => {
  let col = indentOf(line)
  let rest = line.slice(col)
  while (/^-\s/.test(rest)) {
    const after = rest.slice(1).trimStart()
    col += rest.length - after.length
    rest = after
  }
  const match = /^(?:"([^"]*)"|'([^']*)'|([^\s"'#:][^:#]*?))\s*:(?:\s|$)/.exec(rest)
  return match === null ? undefined : { col, key: match[1] ?? match[2] ?? match[3] ?? "" }
}

const firstContent = (lines: ReadonlyArray<string>, scope: Scope) => {
  for (let i = scope.start; i < scope.end; i++) if (isContent(lines[i]!)) return i
  return undefined
}

/** Lines after `from` up to the first content line that `stop` says ends the block. */
const blockAfter = (lines: ReadonlyArray<string>, from: number, stop: (line: string) => boolean): Scope => {
  let end = from + 1
  while (end < lines.length && (!isContent(lines[end]!) || !stop(lines[end]!))) end++
  return { start: from + 1, end }
}

const findKey = (lines: ReadonlyArray<string>, scope: Scope, key: string) => {
  const first = firstContent(lines, scope)
  const col = first === undefined ? undefined : keyAt(lines[first]!)?.col
  for (let i = scope.start; i < scope.end; i++) {
    const found = keyAt(lines[i]!)
    if (found !== undefined && found.col === col && found.key === key) {
      // The value's block: deeper lines, or an indentless sequence at the key's own column.
      return {
        line: i,
        value: blockAfter(lines, i, (l) => indentOf(l) < found.col || (indentOf(l) === found.col && !isDash(l)))
      }
    }
  }
  return undefined
}

const findItem = (lines: ReadonlyArray<string>, scope: Scope, index: number) => {
  const first = firstContent(lines, scope)
  if (first === undefined || !isDash(lines[first]!)) return undefined
  const dashCol = indentOf(lines[first]!)
  let seen = -1
  for (let i = first; i < scope.end; i++) {
    if (!isDash(lines[i]!) || indentOf(lines[i]!) !== dashCol || ++seen !== index) continue
    const rest = blockAfter(lines, i, (l) => indentOf(l) <= dashCol)
    return { line: i, value: { start: i, end: rest.end } }
  }
  return undefined
}

/** 1-based line of `path` within `text`, or of its deepest ancestor found; 1 for the root. */
export const lineOf = (text: string, path: YamlPath): number => {
  const lines = text.split(/\r?\n/)
  let scope: Scope = { start: 0, end: lines.length }
  let line = firstContent(lines, scope) ?? 0
  for (const segment of path) {
    const found = typeof segment === "number" ? findItem(lines, scope, segment) : findKey(lines, scope, segment)
    if (found === undefined) break
    line = found.line
    scope = found.value
  }
  return line + 1
}
