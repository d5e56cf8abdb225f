// Readiness of the API server for /readyz: a cached GET of our CRD group, so scrapes never
// hammer the API server. Standalone mode has no API server and no such check.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { apiServerCheck } from "../metrics/HealthChecks.js"
import { KubeApi } from "./KubeApi.js"

export class ApiServerReadiness extends Context.Service<ApiServerReadiness, {
  readonly check: Effect.Effect<void, string> | undefined
}>()("ApiServerReadiness") {
  static readonly layer = Layer.effect(ApiServerReadiness, Effect.gen(function*() {
    const kube = yield* KubeApi
    const check = yield* apiServerCheck((path) =>
      kube.request({ method: "GET", path, description: "get API group secrets-store.csi.x-k8s.io/v1" })
    )
    return { check }
  }))

  static readonly none = Layer.succeed(ApiServerReadiness, { check: undefined })
}
