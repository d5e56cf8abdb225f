// Readiness of the API server for /readyz: a cached GET of our CRD group, so scrapes never hammer the API server.
// Standalone mode has no API server: it provides no ApiServerReadiness, and /readyz has no such check.
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { KubeApi } from "./KubeApi.js"

/** Reachability of the API server through any GET (e.g. KubeApi.request), its answer cached for `ttl`. */
export const apiServerCheck = (
  get: (path: string) => Effect.Effect<unknown, { readonly message: string }>,
  ttl: Duration.Input = "5 seconds"
): Effect.Effect<Effect.Effect<void, string>> =>
  get("/apis/secrets-store.csi.x-k8s.io/v1").pipe(
    Effect.asVoid,
    Effect.mapError((error) => error.message.split("\n")[0] ?? ""),
    Effect.cachedWithTTL(ttl)
  )

export class ApiServerReadiness extends Context.Service<
  ApiServerReadiness,
  {
    /** Fails with the one-line reason when the API server does not answer. */
    readonly check: Effect.Effect<void, string>
  }
>()("ApiServerReadiness") {
  static readonly layer = Layer.effect(
    ApiServerReadiness,
    Effect.gen(function* () {
      const kube = yield* KubeApi
      const check = yield* apiServerCheck((path) =>
        kube.request({ method: "GET", path, description: "get API group secrets-store.csi.x-k8s.io/v1" })
      )
      return { check }
    })
  )
}
