// The config service and its schema: defaults come from the flag table, and decoding is reversible.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { DriverConfig, DriverConfigFromFlags } from "../../src/config/DriverConfig.js"
import { driverFlagDefaults } from "../../src/config/Flags.js"

describe("DriverConfig", () => {
  it.effect("layer provides the given config", () =>
    Effect.gen(function*() {
      const config = { ...DriverConfig.defaults, nodeId: "node-7" }
      const provided = yield* Effect.provide(Effect.service(DriverConfig), DriverConfig.layer(config))
      expect(provided).toBe(config)
    }))

  it.effect("layerTest overrides fields of the defaults", () =>
    Effect.gen(function*() {
      const provided = yield* Effect.provide(
        Effect.service(DriverConfig),
        DriverConfig.layerTest({ providerTimeout: Duration.seconds(5) })
      )
      expect(Duration.toMillis(provided.providerTimeout)).toBe(5_000)
      expect(provided.driverName).toBe(DriverConfig.defaults.driverName)
    }))

  it("encodes back to Go flag syntax, and that decodes to the same config", () => {
    const config = {
      ...DriverConfig.defaults,
      endpoint: { _tag: "tcp", host: "::1", port: 10000 } as const,
      rotationPollInterval: Duration.nanos(1_500_000_000n)
    }
    const encoded = Schema.encodeSync(DriverConfigFromFlags)(config)
    expect(encoded).toEqual({
      ...driverFlagDefaults,
      endpoint: "tcp://[::1]:10000",
      metricsBackend: "prometheus",
      rotationPollInterval: "1.5s",
      providerHealthCheckInterval: "2m0s"
    })
    expect(Schema.decodeSync(DriverConfigFromFlags)(encoded)).toStrictEqual(config)
  })
})
