// The pure rotation helpers: which objects changed, the SecretRotated message, the restart digest every node
// computes alike, and the opt-in annotation.
import { describe, expect, it } from "vitest"
import { maxMessageBytes } from "../../src/k8s/Events.js"
import {
  changedObjects,
  restartDigest,
  restartOnRotationAnnotation,
  restartsOnRotation,
  rotationMessage
} from "../../src/publish/RotationChanges.js"

const spc = { namespace: "apps", name: "db" }
const v = (id: string, version: string) => ({ id, version })

describe("changedObjects", () => {
  it("is empty when every id keeps its version, in any order", () => {
    expect(changedObjects([v("a", "1"), v("b", "2")], [v("b", "2"), v("a", "1")])).toEqual([])
  })

  it("lists changed, added and removed ids sorted by id", () => {
    expect(changedObjects([v("b", "2"), v("c", "1"), v("a", "1")], [v("a", "1"), v("b", "3"), v("d", "9")])).toEqual([
      { id: "b", from: "2", to: "3" },
      { id: "c", from: "1", to: undefined },
      { id: "d", from: undefined, to: "9" }
    ])
  })

  it("takes the last version of a duplicate id, as the SPCPS does", () => {
    expect(changedObjects([v("a", "1"), v("a", "2")], [v("a", "2")])).toEqual([])
  })
})

describe("rotationMessage", () => {
  it("names the class and each change by id and versions only", () => {
    const changes = changedObjects([v("secret/a", "1"), v("secret/b", "4")], [v("secret/a", "2"), v("secret/c", "1")])
    expect(rotationMessage(spc, changes)).toBe(
      "SecretProviderClass apps/db rotated: secret/a: 1 -> 2, secret/b: 4 -> (none), secret/c: (none) -> 1"
    )
  })

  it("escapes control characters of a provider's versions and stays within the Event size limit", () => {
    const many = Array.from({ length: 200 }, (_, i) => ({ id: `secret/object-${i}`, from: "1", to: "2\n\u001b[31m" }))
    const message = rotationMessage(spc, many)
    expect(Buffer.byteLength(message)).toBeLessThanOrEqual(maxMessageBytes)
    expect(message).not.toMatch(/[\n\u001b]/)
    expect(message).toContain("secret/object-0: 1 -> 2\\n\\x1b[31m")
  })
})

describe("restartDigest", () => {
  const base = [v("secret/a", "1"), v("secret/b", "7")]

  it("is the same for the same versions in any order, and 32 hex digits", () => {
    const digest = restartDigest(spc, base)
    expect(digest).toMatch(/^[0-9a-f]{32}$/)
    expect(restartDigest(spc, [...base].reverse())).toBe(digest)
  })

  it("changes with any version, any added or removed id, and with the class", () => {
    const digest = restartDigest(spc, base)
    const others = [
      restartDigest(spc, [v("secret/a", "2"), v("secret/b", "7")]),
      restartDigest(spc, [...base, v("secret/c", "1")]),
      restartDigest(spc, [v("secret/a", "1")]),
      restartDigest({ namespace: "apps", name: "db2" }, base),
      restartDigest({ namespace: "apps2", name: "db" }, base),
      // Separators inside ids or versions cannot make two different sets hash alike.
      restartDigest(spc, [v("secret/a", "1\nsecret/b=7")])
    ]
    for (const other of others) expect(other).not.toBe(digest)
    expect(new Set(others).size).toBe(others.length)
  })
})

describe("restartsOnRotation", () => {
  it.each([
    [{ [restartOnRotationAnnotation]: "true" }, true],
    [{ [restartOnRotationAnnotation]: " True " }, true],
    [{ [restartOnRotationAnnotation]: "false" }, false],
    [{ [restartOnRotationAnnotation]: "yes" }, false],
    [{}, false],
    [undefined, false]
  ])("%j -> %s", (annotations, expected) => {
    expect(restartsOnRotation(annotations)).toBe(expected)
  })
})
