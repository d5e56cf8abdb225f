// The request log never carries secrets, and below verbosity 5 it costs nothing on a successful call.
import { describe, expect, it } from "@effect/vitest"
import type * as Effect from "effect/Effect"
import type { ServerMiddlewareCall } from "nice-grpc"
import { makeRequestLog, sanitizeRequest } from "../../src/csi/RequestLog.js"
import { publishRequest } from "../support/CsiClient.js"

const tokensKey = "csi.storage.k8s.io/serviceAccount.tokens"

const callOf = (request: unknown): ServerMiddlewareCall<unknown, unknown> =>
  ({
    method: { path: "/csi.v1.Node/NodePublishVolume", requestStream: false, responseStream: false, options: {} },
    requestStream: false,
    request,
    responseStream: false,
    next: async function* () {
      return {}
    }
  }) as unknown as ServerMiddlewareCall<unknown, unknown>

const drive = async (verbosity: number) => {
  const forked: Array<Effect.Effect<void>> = []
  const middleware = makeRequestLog((effect) => void forked.push(effect), verbosity)
  const generator = middleware(callOf(publishRequest()), { signal: new AbortController().signal } as never)
  for (let step = await generator.next(); !step.done; step = await generator.next()) {
    /* unary: no items */
  }
  return forked.length
}

describe("request log", () => {
  it("strips the secrets map and the service-account tokens, and keeps everything else", () => {
    const request = publishRequest({
      secrets: { clientSecret: "s3cr3t" },
      volumeContext: { ...publishRequest().volumeContext, [tokensKey]: '{"aud":{"token":"jwt"}}' }
    })
    const printed = JSON.stringify(sanitizeRequest(request))
    expect(printed).not.toContain("s3cr3t")
    expect(printed).not.toContain("jwt")
    expect(printed).toContain("***stripped***")
    expect(printed).toContain("my-spc")
    expect(request.secrets).toEqual({ clientSecret: "s3cr3t" })
  })

  it("logs a successful call only at verbosity 5 and above", async () => {
    expect(await drive(0)).toBe(0)
    expect(await drive(4)).toBe(0)
    expect(await drive(5)).toBe(2)
  })
})
