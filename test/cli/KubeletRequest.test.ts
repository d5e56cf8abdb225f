// The request the CLI sends is the one kubelet would: volume id from the pod uid, pod info in the volume
// context, tokens in kubelet's JSON shape with an expiry, the secrets map redacted.
import { describe, expect, it } from "@effect/vitest"
import * as Redacted from "effect/Redacted"
import { createHash } from "node:crypto"
import { generatePodUid, kubeletPublishRequest } from "../../src/cli/KubeletRequest.js"

const pod = { name: "web", namespace: "apps", uid: "0b3c7d2e-1111-4222-8333-944455556666", serviceAccount: "web-sa" }

describe("kubeletPublishRequest", () => {
  it("builds kubelet's volume context, volume id and read-only request", () => {
    const request = kubeletPublishRequest({
      spcName: "app",
      targetPath: "/t",
      pod,
      tokens: {},
      secrets: {},
      nowMillis: 0
    })
    expect(request.volumeId).toBe(`csi-${createHash("sha256").update(`${pod.uid}secrets-store`).digest("hex")}`)
    expect(request.readonly).toBe(true)
    expect(request.volumeContext).toEqual({
      secretProviderClass: "app",
      "csi.storage.k8s.io/pod.name": "web",
      "csi.storage.k8s.io/pod.namespace": "apps",
      "csi.storage.k8s.io/pod.uid": pod.uid,
      "csi.storage.k8s.io/serviceAccount.name": "web-sa",
      "csi.storage.k8s.io/ephemeral": "true"
    })
    expect(Redacted.value(request.secrets)).toEqual({})
  })

  it("puts tokens in kubelet's JSON format, one entry per audience, expiring an hour later", () => {
    const request = kubeletPublishRequest({
      spcName: "app",
      targetPath: "/t",
      pod,
      nowMillis: Date.parse("2030-01-01T00:00:00Z"),
      tokens: { "": Redacted.make("jwt-default"), vault: Redacted.make("jwt-vault") },
      secrets: { clientSecret: Redacted.make("s3cr3t") }
    })
    expect(JSON.parse(request.volumeContext["csi.storage.k8s.io/serviceAccount.tokens"]!)).toEqual({
      "": { token: "jwt-default", expirationTimestamp: "2030-01-01T01:00:00Z" },
      vault: { token: "jwt-vault", expirationTimestamp: "2030-01-01T01:00:00Z" }
    })
    expect(Redacted.value(request.secrets)).toEqual({ clientSecret: "s3cr3t" })
    expect(String(request.secrets)).not.toContain("s3cr3t")
  })

  it("generates a new UUID pod uid each time", () => {
    const [a, b] = [generatePodUid(), generatePodUid()]
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(a).not.toBe(b)
  })
})
