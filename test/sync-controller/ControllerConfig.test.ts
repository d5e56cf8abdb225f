// The controller's flags: upstream's names and defaults, Go syntax, audiences per provider (#218), trimmed.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { describe, expect, it } from "vitest"
import { controllerDefaults, parseControllerArgs } from "../../src/sync-controller/ControllerConfig.js"
import { audiencesFor, parseAudiences } from "../../src/sync-controller/TokenAudiences.js"

const run = (argv: ReadonlyArray<string>) => Effect.runPromise(Effect.result(parseControllerArgs(argv)))

describe("sync controller flags", () => {
  it("upstream's defaults", () => {
    expect(controllerDefaults.providerVolume).toBe("/provider")
    expect(Duration.toHours(controllerDefaults.rotationPollInterval)).toBe(12)
    expect(controllerDefaults.maxCallRecvMsgSize).toBe(4194304)
    expect(controllerDefaults.metricsAddr).toEqual({ host: "", port: 8085 })
    expect(controllerDefaults.healthProbeAddr).toEqual({ host: "", port: 8081 })
    expect(controllerDefaults.leaderElect).toBe(false)
    expect(controllerDefaults.audiences).toEqual({ all: [], byProvider: {} })
  })
  it("the chart's command line parses; zap flags are accepted and reported as without effect", async () => {
    const result = await run([
      "--provider-volume=/provider",
      "--token-request-audience=a, b",
      "--health-probe-bind-address=:8081",
      "--metrics-bind-address=:8085",
      "--leader-elect",
      "--rotation-poll-interval=1h",
      "--zap-log-level",
      "debug"
    ])
    const args = Result.getOrThrow(result)
    if (args._tag !== "Run") throw new Error(args._tag)
    expect(args.config.audiences.all).toEqual(["a", "b"])
    expect(args.config.leaderElect).toBe(true)
    expect(args.ignoredFlags).toEqual(["--zap-log-level"])
  })
  it("a bad value names the flag; 0 turns a server off", async () => {
    const bad = await run(["--rotation-poll-interval=soon"])
    expect(Result.isFailure(bad) && bad.failure.message).toMatch(
      /^invalid value "soon" for flag --rotation-poll-interval/
    )
    const off = Result.getOrThrow(await run(["--metrics-bind-address=0"]))
    expect(off._tag === "Run" && off.config.metricsAddr).toBeUndefined()
  })
  it("audiences: trimmed, deduplicated, provider=audience only for that provider", () => {
    const a = Result.getOrThrow(
      parseAudiences(
        " sts.amazonaws.com ,vault=vault-aud, azure=api://AzureADTokenExchange,https://x?a=b, sts.amazonaws.com"
      )
    )
    expect(audiencesFor(a, "vault")).toEqual(["sts.amazonaws.com", "https://x?a=b", "vault-aud"])
    expect(audiencesFor(a, "azure")).toEqual(["sts.amazonaws.com", "https://x?a=b", "api://AzureADTokenExchange"])
    expect(audiencesFor(a, "gcp")).toEqual(["sts.amazonaws.com", "https://x?a=b"])
    expect(Result.isFailure(parseAudiences("vault= "))).toBe(true)
  })
})
