// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it (controller-runtime's
// defaults: 15 s lease, 10 s renew deadline, 2 s retry): the holder renews; a candidate takes the Lease only once
// it has seen the same record unchanged for a whole lease duration (its own clock, never the holder's), and every
// write carries the resourceVersion it read, so two replicas can never both win. The work runs only while leading.
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { KubeApiShape } from "../k8s/KubeApi.js"
import { isNotFound, type KubernetesError } from "../k8s/KubernetesError.js"
import { asRecord } from "../k8s/KubeResponses.js"

/** Upstream's election ID. */
export const LEASE_NAME = "29f1d54e.secret-sync.x-k8s.io"

export interface LeaseOptions {
  readonly namespace: string
  readonly name: string
  readonly identity: string
  readonly leaseDuration?: Duration.Duration
  readonly renewDeadline?: Duration.Duration
  readonly retryPeriod?: Duration.Duration
}

export class LeadershipLost extends Schema.TaggedError<LeadershipLost>()("LeadershipLost", {
  message: Schema.String
}) {}

export const leasePath = (namespace: string, name?: string) =>
  `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases` +
  (name === undefined ? "" : `/${encodeURIComponent(name)}`)

/** metav1.MicroTime. */
const microTime = (millis: number) => new Date(millis).toISOString().replace(/Z$/, "000Z")

interface LeaseRecord {
  readonly holder: string
  readonly renewTime: string
  readonly resourceVersion: string
  readonly transitions: number
  readonly raw: Record<string, unknown>
}

const recordOf = (body: unknown): LeaseRecord => {
  const o = asRecord(body)
  const spec = asRecord(o["spec"])
  return {
    holder: typeof spec["holderIdentity"] === "string" ? spec["holderIdentity"] : "",
    renewTime: String(spec["renewTime"] ?? ""),
    resourceVersion: String(asRecord(o["metadata"])["resourceVersion"] ?? ""),
    transitions: Number(spec["leaseTransitions"] ?? 0),
    raw: o
  }
}

export const makeLeaderElector = (api: KubeApiShape, options: LeaseOptions) => {
  const leaseDuration = options.leaseDuration ?? Duration.seconds(15)
  const renewDeadline = options.renewDeadline ?? Duration.seconds(10)
  const retryPeriod = options.retryPeriod ?? Duration.seconds(2)
  const what = `lease ${options.namespace}/${options.name}`
  let observed: { readonly key: string; readonly at: number } | undefined

  const spec = (now: number, transitions: number, acquireTime: string) => ({
    holderIdentity: options.identity,
    leaseDurationSeconds: Math.ceil(Duration.toSeconds(leaseDuration)),
    acquireTime,
    renewTime: microTime(now),
    leaseTransitions: transitions
  })

  /** One attempt: true when this replica holds the Lease afterwards. */
  const tryAcquireOrRenew: Effect.Effect<boolean, KubernetesError> = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const got = yield* api
      .request({
        method: "GET",
        path: leasePath(options.namespace, options.name),
        description: `get ${what}`
      })
      .pipe(
        Effect.map((body): unknown => body),
        Effect.catchIf(isNotFound, () => Effect.succeed(undefined))
      )
    if (got === undefined) {
      yield* api.request({
        method: "POST",
        path: leasePath(options.namespace),
        body: {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: options.name, namespace: options.namespace },
          spec: spec(now, 0, microTime(now))
        },
        description: `create ${what}`
      })
      return true
    }
    const record = recordOf(got)
    const mine = record.holder === options.identity
    if (!mine && record.holder !== "") {
      const key = `${record.holder}|${record.renewTime}`
      if (observed?.key !== key) observed = { key, at: now }
      if (now - observed.at < Duration.toMillis(leaseDuration)) return false
    }
    const acquireTime = mine ? String(asRecord(record.raw["spec"])["acquireTime"] ?? microTime(now)) : microTime(now)
    yield* api.request({
      method: "PUT",
      path: leasePath(options.namespace, options.name),
      body: { ...record.raw, spec: spec(now, mine ? record.transitions : record.transitions + 1, acquireTime) },
      description: `update ${what}`
    })
    return true
  })

  const attempt = tryAcquireOrRenew.pipe(
    Effect.catch((e) => Effect.logDebug(`leader election: ${e.message}`).pipe(Effect.as(false)))
  )

  const acquire = Effect.gen(function* () {
    yield* Effect.logInfo(`attempting to acquire leader lease ${options.namespace}/${options.name}`)
    while (!(yield* attempt)) yield* Effect.sleep(retryPeriod)
    yield* Effect.logInfo(`successfully acquired lease ${options.namespace}/${options.name}`, {
      identity: options.identity
    })
  })

  /** Renews every retry period; fails once no renewal succeeded for the renew deadline. */
  const keep = Effect.gen(function* () {
    let lastRenew = yield* Clock.currentTimeMillis
    for (;;) {
      yield* Effect.sleep(retryPeriod)
      const now = yield* Clock.currentTimeMillis
      if (yield* attempt) lastRenew = now
      else if (now - lastRenew >= Duration.toMillis(renewDeadline)) {
        return yield* new LeadershipLost({
          message: `leader election lost: ${what} not renewed within ${Duration.format(renewDeadline)}`
        })
      }
    }
  })

  /** Gives the Lease up on a clean stop, so a standby replica takes over at once instead of after the lease. */
  const release = Effect.gen(function* () {
    const got = yield* api.request({
      method: "GET",
      path: leasePath(options.namespace, options.name),
      description: `get ${what}`
    })
    const record = recordOf(got)
    if (record.holder !== options.identity) return
    const now = yield* Clock.currentTimeMillis
    const released = {
      ...asRecord(record.raw["spec"]),
      holderIdentity: "",
      leaseDurationSeconds: 1,
      renewTime: microTime(now)
    }
    yield* api.request({
      method: "PUT",
      path: leasePath(options.namespace, options.name),
      body: { ...record.raw, spec: released },
      description: `release ${what}`
    })
  }).pipe(Effect.catch((e) => Effect.logWarning(`leader election: ${e.message}`)))

  /** Waits for the Lease, then runs `work` while holding it; fails with LeadershipLost when it is lost. */
  const lead = (work: Effect.Effect<never, never, Scope.Scope>, onLeader: (leader: boolean) => Effect.Effect<void>) =>
    Effect.gen(function* () {
      yield* acquire
      yield* onLeader(true)
      yield* Effect.addFinalizer(() => Effect.andThen(onLeader(false), release))
      const fiber = yield* Effect.forkScoped(work)
      const lost = yield* Effect.flip(keep)
      yield* Fiber.interrupt(fiber)
      return yield* lost
    })

  return { lead, tryAcquireOrRenew }
}
