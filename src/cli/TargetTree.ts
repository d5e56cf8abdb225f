// What a mounted target looks like to a person: the visible files (path, octal mode, size, value or
// `<redacted>`) and the object versions the pod status recorded, and what changed between two looks.
// Values are shown only when asked for, and a change report never contains one.
import { createHash } from "node:crypto"
import type { PodStatusObject } from "../domain/SecretProviderClass.js"
import type { TargetFile } from "../writer/AtomicWriter.js"

export interface TargetSnapshot {
  readonly files: ReadonlyMap<string, TargetFile>
  /** Undefined when the pod status is not in this process (published through a driver's socket). */
  readonly objects: ReadonlyArray<PodStatusObject> | undefined
}

export const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, "0")}`

/** Printable UTF-8 as a JSON string; anything else as base64, so the terminal never gets raw bytes. */
const showValue = (contents: Uint8Array): string => {
  const text = Buffer.from(contents).toString("utf8")
  const printable =
    Buffer.from(text, "utf8").equals(Buffer.from(contents)) && !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)
  return printable ? JSON.stringify(text) : `base64:${Buffer.from(contents).toString("base64")}`
}

const columns = (
  rows: ReadonlyArray<ReadonlyArray<string>>,
  rightAligned: ReadonlySet<number> = new Set()
): Array<string> => {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) =>
    row
      .map((cell, column) => (rightAligned.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd()
  )
}

export const renderTree = (snapshot: TargetSnapshot, showValues: boolean): Array<string> => {
  const fileRows = [...snapshot.files].map(([path, file]) => [
    path,
    octal(file.mode),
    String(file.contents.byteLength),
    showValues ? showValue(file.contents) : "<redacted>"
  ])
  const objectRows = (snapshot.objects ?? []).map((o) => [o.id, o.version])
  return [
    ...(fileRows.length === 0
      ? ["(no files)"]
      : columns([["FILE", "MODE", "BYTES", "VALUE"], ...fileRows], new Set([2]))),
    ...(snapshot.objects === undefined
      ? ["(object versions: in the driver's pod status; its log shows them)"]
      : objectRows.length === 0
        ? ["(no object versions)"]
        : columns([["OBJECT", "VERSION"], ...objectRows]))
  ]
}

const digest = (file: TargetFile) => createHash("sha256").update(file.contents).digest("hex")

const describeFile = (file: TargetFile) => `${octal(file.mode)}, ${file.contents.byteLength} bytes`

/** added/removed/changed paths and new object versions; empty when nothing changed. */
export const diffSnapshots = (before: TargetSnapshot, after: TargetSnapshot): Array<string> => {
  const lines: Array<string> = []
  for (const [path, file] of after.files) {
    const old = before.files.get(path)
    if (old === undefined) lines.push(`added    ${path} (${describeFile(file)})`)
    else if (digest(old) !== digest(file) || old.mode !== file.mode)
      lines.push(`changed  ${path} (${describeFile(file)})`)
  }
  for (const path of before.files.keys()) if (!after.files.has(path)) lines.push(`removed  ${path}`)
  const versions = new Map((before.objects ?? []).map((o) => [o.id, o.version]))
  for (const object of after.objects ?? []) {
    const old = versions.get(object.id)
    if (old === undefined) lines.push(`version  ${object.id} ${object.version} (new)`)
    else if (old !== object.version) lines.push(`version  ${object.id} ${old} -> ${object.version}`)
  }
  const current = new Set((after.objects ?? []).map((o) => o.id))
  for (const object of before.objects ?? []) if (!current.has(object.id)) lines.push(`version  ${object.id} gone`)
  return lines
}
