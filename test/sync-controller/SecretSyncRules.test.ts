// The CRD's validation cases (upstream v0.0.4's patterns and CEL rules) as src/domain/SecretSync.ts checks them.
import { describe, expect, it } from "vitest"
import * as Schema from "effect/Schema"
import {
  forceSynchronizationPattern,
  keyPattern,
  labelReservedMessage,
  labelSizeMessage,
  SecretSync,
  secretSyncProblems
} from "../../src/domain/SecretSync.js"

const ss = (secretObject: Record<string, unknown>, spec: Record<string, unknown> = {}) =>
  Schema.decodeUnknownSync(SecretSync)({
    apiVersion: "secret-sync.x-k8s.io/v1alpha1",
    kind: "SecretSync",
    metadata: { name: "s", namespace: "n" },
    spec: {
      secretProviderClassName: "spc",
      serviceAccountName: "sa",
      secretObject: { type: "Opaque", data: [{ sourcePath: "a", targetKey: "a" }], ...secretObject },
      ...spec
    }
  })

describe("SecretSync CRD rules", () => {
  it.each(["tls.crt", "ca.crt", ".dockerconfigjson", "foo_bar", "key/0/1", "a-", "a"])(
    "sourcePath/targetKey accepts %s",
    (key) => {
      expect(keyPattern.test(key)).toBe(true)
    }
  )
  it.each(["a.b", "a_b", "x.y.z", "FOO__BAR", "key/x", "-a"])("sourcePath/targetKey rejects %s", (key) => {
    expect(keyPattern.test(key)).toBe(false)
    expect(secretSyncProblems(ss({ data: [{ sourcePath: key, targetKey: "ok" }] }))).toHaveLength(1)
  })
  it("forceSynchronization accepts dates, refuses RFC 3339 timestamps (colons)", () => {
    expect(forceSynchronizationPattern.test("2024-01-01")).toBe(true)
    expect(forceSynchronizationPattern.test("2024-01-01T00:00:00Z")).toBe(false)
  })
  it("labels: keys and values below 63 characters, no reserved prefix", () => {
    expect(secretSyncProblems(ss({ labels: { ["k".repeat(62)]: "v".repeat(62) } }))).toEqual([])
    expect(secretSyncProblems(ss({ labels: { ["k".repeat(63)]: "v" } }))).toEqual([
      `spec.secretObject.labels: ${labelSizeMessage}`
    ])
    expect(secretSyncProblems(ss({ labels: { k: "v".repeat(63) } }))).toEqual([
      `spec.secretObject.labels: ${labelSizeMessage}`
    ])
    expect(secretSyncProblems(ss({ labels: { "secrets-store.sync.x-k8s.io/x": "" } }))).toEqual([
      `spec.secretObject.labels: ${labelReservedMessage}`
    ])
  })
  it("annotations: reserved prefix and the 253 bound", () => {
    expect(secretSyncProblems(ss({ annotations: { "secrets-store.sync.x-k8s.io": "" } }))[0]).toMatch(
      /Annotations should not contain/
    )
    expect(secretSyncProblems(ss({ annotations: { a: "v".repeat(253) } }))[0]).toMatch(/< 253 characters/)
  })
  it("data: at least one item, targetKey unique; names are DNS subdomains", () => {
    expect(secretSyncProblems(ss({ data: [] }))).toEqual(["spec.secretObject.data: must hold at least 1 item"])
    expect(
      secretSyncProblems(
        ss({
          data: [
            { sourcePath: "a", targetKey: "k" },
            { sourcePath: "b", targetKey: "k" }
          ]
        })
      )[0]
    ).toMatch(/duplicate targetKey/)
    expect(secretSyncProblems(ss({}, { secretProviderClassName: "Bad_Name" }))[0]).toMatch(/secretProviderClassName/)
  })
})
