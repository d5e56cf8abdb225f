// Which workload controls a pod, found through controller owner references as `kubectl rollout restart` would
// need it: Pod -> ReplicaSet -> Deployment, Pod -> StatefulSet, Pod -> DaemonSet. Anything else (a bare pod, a
// Job, a kind the driver does not know) is Unsupported, with the reason a Warning Event gives.
import * as Effect from "effect/Effect"
import type { PodRef } from "./Events.js"
import type { KubeApiShape } from "./KubeApi.js"
import type { KubernetesError } from "./KubernetesError.js"
import { asRecord, type Json } from "./KubeResponses.js"

export type WorkloadKind = "Deployment" | "StatefulSet" | "DaemonSet"

export interface Workload {
  readonly _tag: "Workload"
  readonly kind: WorkloadKind
  readonly namespace: string
  readonly name: string
}

export interface Unsupported {
  readonly _tag: "Unsupported"
  /** The metric's `kind`: what controls the pod (Pod for a bare pod, Job, ReplicaSet without Deployment, …). */
  readonly kind: string
  readonly why: string
}

const plurals: Readonly<Record<WorkloadKind, string>> = {
  Deployment: "deployments",
  StatefulSet: "statefulsets",
  DaemonSet: "daemonsets"
}

const appsPath = (plural: string, namespace: string, name: string) =>
  `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/${plural}/${encodeURIComponent(name)}`

export const workloadPath = (w: Workload) => appsPath(plurals[w.kind], w.namespace, w.name)

export const describeWorkload = (w: Workload) => `${w.kind.toLowerCase()} ${w.namespace}/${w.name}`

interface OwnerRef {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
}

/** The owner reference marked `controller: true`, if any (there is at most one). */
export const controllerOf = (object: unknown): OwnerRef | undefined => {
  const refs = asRecord(asRecord(object)["metadata"])["ownerReferences"]
  if (!Array.isArray(refs)) return undefined
  const ref = refs.map(asRecord).find((r) => r["controller"] === true)
  if (ref === undefined || typeof ref["kind"] !== "string" || typeof ref["name"] !== "string") return undefined
  return { apiVersion: String(ref["apiVersion"] ?? ""), kind: ref["kind"], name: ref["name"] }
}

const isApps = (ref: OwnerRef) => ref.apiVersion === "apps/v1"

const unsupported = (kind: string, why: string): Unsupported => ({ _tag: "Unsupported", kind, why })

/** The ReplicaSet's controlling Deployment; a ReplicaSet of its own (or of another controller) is not restarted. */
const throughReplicaSet = (api: KubeApiShape, namespace: string, name: string) =>
  api
    .request({
      method: "GET",
      path: appsPath("replicasets", namespace, name),
      description: `get replicaset ${namespace}/${name}`
    })
    .pipe(
      Effect.map((rs): Workload | Unsupported => {
        const owner = controllerOf(rs)
        if (owner !== undefined && isApps(owner) && owner.kind === "Deployment")
          return { _tag: "Workload", kind: "Deployment", namespace, name: owner.name }
        return unsupported(
          "ReplicaSet",
          `its ReplicaSet ${namespace}/${name} has no controlling Deployment: only Deployments, StatefulSets and ` +
            "DaemonSets are restarted"
        )
      })
    )

/** The workload a restart patches, or why there is none. */
export const findWorkload = (api: KubeApiShape, pod: PodRef): Effect.Effect<Workload | Unsupported, KubernetesError> =>
  Effect.gen(function* () {
    const { namespace, name } = pod
    const object = yield* api.request({
      method: "GET",
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`,
      description: `get pod ${namespace}/${name}`
    })
    const owner = controllerOf(object)
    if (owner === undefined) return unsupported("Pod", "the pod has no controller: a bare pod is not restarted")
    if (isApps(owner) && owner.kind === "ReplicaSet") return yield* throughReplicaSet(api, namespace, owner.name)
    if (isApps(owner) && (owner.kind === "StatefulSet" || owner.kind === "DaemonSet"))
      return { _tag: "Workload", kind: owner.kind, namespace, name: owner.name } satisfies Workload
    if (owner.kind === "Job")
      return unsupported("Job", `its controller is Job ${namespace}/${owner.name}: a Job is not restarted`)
    return unsupported(
      owner.kind,
      `its controller is ${owner.kind} ${namespace}/${owner.name}: only Deployments, StatefulSets and DaemonSets ` +
        "are restarted"
    )
  })

const num = (u: unknown) => (typeof u === "number" ? u : 0)

/**
 * Whether the workload's last rollout is still under way, read as `kubectl rollout status` does: a generation the
 * controller has not observed yet, or replicas not all updated (Deployment, DaemonSet), or two revisions
 * (StatefulSet). Patching it again would start another rollout on top of one still running.
 */
export const rolloutProgressing = (kind: WorkloadKind, object: Json): boolean => {
  const metadata = asRecord(object["metadata"])
  const status = asRecord(object["status"])
  const spec = asRecord(object["spec"])
  if (num(status["observedGeneration"]) < num(metadata["generation"])) return true
  switch (kind) {
    case "Deployment":
      return num(status["updatedReplicas"]) < num(spec["replicas"] ?? 1)
    case "StatefulSet":
      return status["updateRevision"] !== undefined && status["updateRevision"] !== status["currentRevision"]
    case "DaemonSet":
      return num(status["updatedNumberScheduled"]) < num(status["desiredNumberScheduled"])
  }
}

/** The value of one pod template annotation, if set. */
export const templateAnnotation = (object: Json, key: string): string | undefined => {
  const template = asRecord(asRecord(object["spec"])["template"])
  const value = asRecord(asRecord(template["metadata"])["annotations"])[key]
  return typeof value === "string" ? value : undefined
}
