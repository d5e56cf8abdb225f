// The opt-in rolling restart after a rotation: the pod's controlling workload gets the pod template annotation
// `secrets-store.csi.k8s.io/restartedAt` (a digest of the new versions, the same on every node) by merge patch,
// as `kubectl rollout restart` does; at most once per workload per cooldown, never over a rollout still under way.
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import { Events, type PodRef } from "./Events.js"
import { KubeApi } from "./KubeApi.js"
import type { KubernetesError } from "./KubernetesError.js"
import { asRecord } from "./KubeResponses.js"
import {
  describeWorkload,
  findWorkload,
  rolloutProgressing,
  templateAnnotation,
  type Workload,
  workloadPath
} from "./WorkloadOwner.js"

/** The pod template annotation a restart writes. */
export const restartedAtAnnotation = "secrets-store.csi.k8s.io/restartedAt"

export type RestartResult = "restarted" | "unchanged" | "deferred" | "progressing" | "failed" | "unsupported"

export interface RestartRequest {
  readonly pod: PodRef
  /** `namespace/name` of the SecretProviderClass that rotated, for messages. */
  readonly spc: string
  /** The annotation's value: publish/RotationChanges.ts restartDigest. */
  readonly digest: string
}

export interface WorkloadRestartShape {
  /** Never fails, never waits: the owner walk and the patch run in the layer's scope. */
  readonly restart: (request: RestartRequest) => Effect.Effect<void>
}

export interface WorkloadRestartOptions {
  /** `--restart-cooldown`: the least time between two restarts of one workload by this driver. */
  readonly cooldown: Duration.Input
  /** Each request's end, for the `rotation_restart_total{kind,result}` metric. */
  readonly onResult: (kind: string, result: RestartResult) => Effect.Effect<void>
  /** How often a workload whose rollout is under way is looked at again; default 30 s. */
  readonly progressRecheck?: Duration.Input
  /** First delay of the patch retries (doubling, 4 retries); default 1 s. */
  readonly retryBase?: Duration.Input
}

/** What this driver remembers of one workload. */
interface WorkloadState {
  /** The latest digest waiting (for the cooldown's end, a rollout, or the worker). */
  pending: RestartRequest | undefined
  /** The last digest found on or written to the template. */
  applied: string | undefined
  /** When this driver last patched it. */
  restartedAt: number | undefined
  /** A worker fiber runs for this workload. */
  busy: boolean
  /** The pending digest already met a rollout under way (counted once, however often it is looked at). */
  waited: boolean
}

const patchBody = (digest: string) => ({
  spec: { template: { metadata: { annotations: { [restartedAtAnnotation]: digest } } } }
})

const forbiddenHint = (e: KubernetesError) =>
  e.status === 403 ? " (is the restart-on-rotation component's RBAC installed?)" : ""

const makeLive = Effect.fnUntraced(function* (options: WorkloadRestartOptions) {
  const api = yield* KubeApi
  const events = yield* Events
  const scope = yield* Effect.scope
  const cooldownMillis = Duration.toMillis(Duration.fromInputUnsafe(options.cooldown))
  const recheck = Duration.fromInputUnsafe(options.progressRecheck ?? "30 seconds")
  const retry = Schedule.exponential(options.retryBase ?? "1 second").pipe(Schedule.jittered)
  // Touched only in synchronous steps of one fiber at a time, so plain mutable entries are safe.
  const states = new Map<string, WorkloadState>()

  const warn = (request: RestartRequest, reason: string, message: string) =>
    events.warning({ pod: request.pod, reason, message })

  /** One look at the workload: unchanged, progressing, or patched (with bounded retries). */
  const apply = (workload: Workload, request: RestartRequest) =>
    Effect.gen(function* () {
      const path = workloadPath(workload)
      const what = describeWorkload(workload)
      const current = asRecord(yield* api.request({ method: "GET", path, description: `get ${what}` }))
      if (templateAnnotation(current, restartedAtAnnotation) === request.digest) return "unchanged" as const
      if (rolloutProgressing(workload.kind, current)) return "progressing" as const
      yield* api.request({
        method: "PATCH",
        path,
        body: patchBody(request.digest),
        contentType: "application/merge-patch+json",
        description: `patch ${what}`
      })
      return "restarted" as const
    }).pipe(Effect.retry({ schedule: retry, times: 4 }))

  const finish = (workload: Workload, request: RestartRequest, result: RestartResult) =>
    Effect.andThen(
      result === "restarted"
        ? Effect.logInfo("restarted workload after rotation", {
            workload: describeWorkload(workload),
            pod: `${request.pod.namespace}/${request.pod.name}`,
            secretProviderClass: request.spc,
            [restartedAtAnnotation]: request.digest
          })
        : Effect.void,
      options.onResult(workload.kind, result)
    )

  /** Works through the workload's pending digest until none is left; one worker per workload. */
  const work = (key: string, workload: Workload): Effect.Effect<void> =>
    Effect.gen(function* () {
      for (;;) {
        const state = states.get(key)!
        const request = state.pending
        if (request === undefined) {
          state.busy = false
          return
        }
        const now = yield* Clock.currentTimeMillis
        const wait = state.restartedAt === undefined ? 0 : state.restartedAt + cooldownMillis - now
        // Within the cooldown: sleep to its end, then take the then-latest digest.
        if (wait > 0) {
          yield* Effect.sleep(Duration.millis(wait))
          continue
        }
        state.pending = undefined
        const result = yield* apply(workload, request).pipe(
          Effect.catch((e) =>
            Effect.as(
              warn(
                request,
                "RestartFailed",
                `could not restart ${describeWorkload(workload)} after SecretProviderClass ${request.spc} ` +
                  `rotated: ${e.message}${forbiddenHint(e)}`
              ),
              "failed" as const
            )
          )
        )
        if (result === "restarted") state.restartedAt = yield* Clock.currentTimeMillis
        if (result === "restarted" || result === "unchanged") state.applied = request.digest
        if (result !== "progressing" || !state.waited) yield* finish(workload, request, result)
        state.waited = result === "progressing"
        if (result === "progressing") {
          state.pending ??= request
          yield* Effect.sleep(recheck)
        }
      }
    })

  /**
   * Forgets the workloads with nothing left to do: no worker, nothing pending, the cooldown over. What is lost is
   * only the last digest applied, and a repeat of it costs one GET that finds it unchanged.
   */
  const prune = (now: number) => {
    for (const [key, state] of states) {
      const cooling = state.restartedAt !== undefined && now - state.restartedAt < cooldownMillis
      if (!state.busy && state.pending === undefined && !cooling) states.delete(key)
    }
  }

  /** Queues the digest for the workload; counts it deferred when the cooldown holds it back. */
  const submit = (workload: Workload, request: RestartRequest) =>
    Effect.gen(function* () {
      prune(yield* Clock.currentTimeMillis)
      const key = `${workload.kind}/${workload.namespace}/${workload.name}`
      const state = states.get(key) ?? {
        pending: undefined,
        applied: undefined,
        restartedAt: undefined,
        busy: false,
        waited: false
      }
      states.set(key, state)
      // Another pod of the same workload on this node, with the same rotation: already done or on its way.
      if (state.applied === request.digest || state.pending?.digest === request.digest)
        return yield* options.onResult(workload.kind, "unchanged")
      state.pending = request
      state.waited = false
      const now = yield* Clock.currentTimeMillis
      if (state.restartedAt !== undefined && now - state.restartedAt < cooldownMillis) {
        yield* Effect.logInfo("restart deferred by --restart-cooldown", {
          workload: describeWorkload(workload),
          secretProviderClass: request.spc
        })
        yield* options.onResult(workload.kind, "deferred")
      }
      if (state.busy) return
      state.busy = true
      yield* Effect.forkIn(work(key, workload), scope)
    })

  const resolveAndSubmit = (request: RestartRequest) =>
    findWorkload(api, request.pod).pipe(
      Effect.retry({ schedule: retry, times: 4 }),
      Effect.flatMap((found) =>
        found._tag === "Workload"
          ? submit(found, request)
          : Effect.andThen(
              warn(
                request,
                "RestartSkipped",
                `not restarted after SecretProviderClass ${request.spc} rotated: ${found.why}`
              ),
              options.onResult(found.kind, "unsupported")
            )
      ),
      Effect.catch((e) =>
        Effect.andThen(
          warn(
            request,
            "RestartFailed",
            `could not find the workload of pod ${request.pod.namespace}/${request.pod.name} after ` +
              `SecretProviderClass ${request.spc} rotated: ${e.message}${forbiddenHint(e)}`
          ),
          options.onResult("Pod", "failed")
        )
      )
    )

  const restart = Effect.fn("WorkloadRestart.restart")(function* (request: RestartRequest) {
    if (request.pod.namespace === "" || request.pod.name === "") return
    yield* Effect.forkIn(resolveAndSubmit(request), scope)
  })
  return WorkloadRestart.of({ restart })
})

/** Test handle of the in-memory layer: every request as asked for. */
export class WorkloadRestartInMemory extends Context.Service<
  WorkloadRestartInMemory,
  { readonly requests: Effect.Effect<ReadonlyArray<RestartRequest>> }
>()("WorkloadRestartInMemory") {}

const makeInMemory = Effect.gen(function* () {
  const recorded = yield* Ref.make<ReadonlyArray<RestartRequest>>([])
  const restart = Effect.fn("WorkloadRestart.restart")(function* (request: RestartRequest) {
    yield* Ref.update(recorded, (all) => [...all, request])
    // No API server here (standalone mode, the CLI): say what would be written.
    yield* Effect.logInfo("restart on rotation (in memory): would patch the pod's controlling workload", {
      pod: `${request.pod.namespace}/${request.pod.name}`,
      secretProviderClass: request.spc,
      [restartedAtAnnotation]: request.digest
    })
  })
  return Context.make(WorkloadRestart, WorkloadRestart.of({ restart })).pipe(
    Context.add(WorkloadRestartInMemory, WorkloadRestartInMemory.of({ requests: Ref.get(recorded) }))
  )
})

export class WorkloadRestart extends Context.Service<WorkloadRestart, WorkloadRestartShape>()("WorkloadRestart") {
  static readonly layer = (options: WorkloadRestartOptions): Layer.Layer<WorkloadRestart, never, KubeApi | Events> =>
    Layer.effect(WorkloadRestart, makeLive(options))
  static readonly layerInMemory: Layer.Layer<WorkloadRestart | WorkloadRestartInMemory> =
    Layer.effectContext(makeInMemory)
}
