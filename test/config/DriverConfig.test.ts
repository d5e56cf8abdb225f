// The config schema: defaults come from the flag table, and decoding is reversible.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import { defaultDriverConfig, DriverConfigFromFlags } from "../../src/config/DriverConfig.js"
import { driverFlagDefaults } from "../../src/config/Flags.js"

describe("DriverConfig", () => {
  it("encodes back to Go flag syntax, and that decodes to the same config", () => {
    const config = {
      ...defaultDriverConfig,
      endpoint: { _tag: "tcp", host: "::1", port: 10000 } as const,
      rotationPollInterval: Duration.nanos(1_500_000_000n)
    }
    const encoded = Schema.encodeSync(DriverConfigFromFlags)(config)
    expect(encoded).toEqual({
      ...driverFlagDefaults,
      endpoint: "tcp://[::1]:10000",
      metricsBackend: "prometheus",
      rotationPollInterval: "1.5s",
      providerHealthCheckInterval: "2m0s",
      restartCooldown: "5m0s"
    })
    expect(Schema.decodeSync(DriverConfigFromFlags)(encoded)).toStrictEqual(config)
  })
})
