// The request log never carries secrets, and below verbosity 5 it costs nothing on a successful call.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { TestConsole } from "effect/testing"
import { Logging } from "../../src/config/Logging.js"
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

const drive = async (verbosity: number) => (await forkedAt(verbosity)).length

/** The log effects `calls` successful NodePublishVolume calls through one middleware fork at `verbosity`. */
const forkedAt = async (verbosity: number, calls = 1) => {
  const forked: Array<Effect.Effect<void>> = []
  const middleware = makeRequestLog((effect) => void forked.push(effect), verbosity)
  for (let call = 0; call < calls; call++) {
    const generator = middleware(callOf(publishRequest()), { signal: new AbortController().signal } as never)
    for (let step = await generator.next(); !step.done; step = await generator.next()) {
      /* unary: no items */
    }
  }
  return forked
}

/** The JSON lines two calls log at -v=5, both run to the end. */
const linesAt5 = async () => {
  const forked = await forkedAt(5, 2)
  const program = Effect.gen(function* () {
    yield* Effect.all(forked, { discard: true }).pipe(
      Effect.provide(Logging.layer({ logFormatJson: true, verbosity: 5 }))
    )
    return (yield* TestConsole.errorLines).map((line) => JSON.parse(String(line)) as Record<string, unknown>)
  })
  return Effect.runPromise(program.pipe(Effect.provide(TestConsole.layer)))
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

  it("at -v=5 a response line carries its request line's id and target", async () => {
    const lines = await linesAt5()
    const target = publishRequest().targetPath
    expect(lines.map((line) => [line["msg"], line["target"]])).toEqual([
      ["GRPC call", target],
      ["GRPC response", target],
      ["GRPC call", target],
      ["GRPC response", target]
    ])
    const ids = lines.map((line) => line["requestId"])
    expect(ids[0]).toBe(ids[1])
    expect(ids[2]).toBe(ids[3])
    expect(ids[0]).not.toBe(ids[2])
  })
})
