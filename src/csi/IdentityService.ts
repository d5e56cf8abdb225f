// CSI Identity: who we are and what we serve. Only what is implemented is advertised
// (docs/contract.md#only-advertised-capabilities): no CONTROLLER_SERVICE, unlike upstream.
import * as Effect from "effect/Effect"
import type { IdentityServiceImplementation } from "../gen/csi/v1/csi.js"

export interface PluginIdentity {
  readonly name: string
  readonly vendorVersion: string
}

/** Probe answers ready once it can be called at all: the server listens only after every layer is up. */
export const makeIdentityService = (identity: PluginIdentity): Effect.Effect<IdentityServiceImplementation> =>
  Effect.succeed({
    getPluginInfo: async () => ({ name: identity.name, vendorVersion: identity.vendorVersion, manifest: {} }),
    getPluginCapabilities: async () => ({ capabilities: [] }),
    probe: async () => ({ ready: true })
  })
