import { describe, expect, it } from "@effect/vitest"
import { Status } from "nice-grpc"
import { FailureReason } from "../../src/domain/FailureReason.js"
import { reasonToCode, toServerError } from "../../src/csi/toStatus.js"

describe("toStatus", () => {
  it.each([
    ["InvalidRequest", Status.INVALID_ARGUMENT],
    ["SecretProviderClassNotFound", Status.NOT_FOUND],
    ["InvalidSecretProviderClass", Status.FAILED_PRECONDITION],
    ["ProviderNotFound", Status.FAILED_PRECONDITION],
    ["ProviderUnavailable", Status.UNAVAILABLE],
    ["ProviderTimeout", Status.DEADLINE_EXCEEDED],
    ["ProviderError", Status.UNKNOWN],
    ["InvalidProviderResponse", Status.INTERNAL],
    ["FileWriteError", Status.INTERNAL],
    ["MountFailed", Status.INTERNAL],
    ["KubernetesApiError", Status.UNAVAILABLE],
    ["InternalError", Status.INTERNAL]
  ] as const)("%s -> %s", (reason, code) => {
    const error = toServerError({ reason, message: "default/pod-1: something" })
    expect(error.code).toBe(code)
    expect(error.details).toBe(`${reason}: default/pod-1: something`)
  })

  it("covers every reason of the closed set, and nothing else", () => {
    expect(Object.keys(reasonToCode).sort()).toEqual([...FailureReason.literals].sort())
  })
})
