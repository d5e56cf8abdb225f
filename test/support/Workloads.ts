// Workload chains for the fake API server, as the controllers would leave them: Deployment -> ReplicaSet -> Pod,
// StatefulSet -> Pod, DaemonSet -> Pod, Job -> Pod and a bare Pod, every rollout complete.
import type { FakeApiServer, KubeObject } from "./FakeApiServer.js"
import { resourceByKind } from "./FakeApiStore.js"

const controller = (kind: string, name: string, uid: string, apiVersion = "apps/v1") => ({
  ownerReferences: [{ apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true }]
})

const template = { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "app", image: "app:1" }] } }

const deployment = (namespace: string, name: string) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace, generation: 1 },
  spec: { replicas: 2, template },
  status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2 }
})

const statefulSet = (namespace: string, name: string) => ({
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  metadata: { name, namespace, generation: 1 },
  spec: { replicas: 1, template },
  status: { observedGeneration: 1, currentRevision: `${name}-1`, updateRevision: `${name}-1` }
})

const daemonSet = (namespace: string, name: string) => ({
  apiVersion: "apps/v1",
  kind: "DaemonSet",
  metadata: { name, namespace, generation: 1 },
  spec: { template },
  status: { observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3 }
})

const pod = (namespace: string, name: string, owner: object = {}) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace, ...owner },
  spec: { nodeName: "node-a", containers: [{ name: "app", image: "app:1" }] },
  status: { phase: "Running" }
})

export interface SeededPod {
  readonly name: string
  readonly namespace: string
  readonly uid: string
}

const seeded = (o: KubeObject): SeededPod => ({
  name: String(o.metadata["name"]),
  namespace: String(o.metadata["namespace"]),
  uid: String(o.metadata["uid"])
})

const uidOf = (o: KubeObject) => String(o.metadata["uid"])

/** Seeds one chain per kind in `namespace`; returns the pods by their controller's kind. */
export const seedWorkloads = (api: FakeApiServer, namespace: string) => {
  const d = api.seed(deployment(namespace, "web"))
  const rs = api.seed({
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name: "web-5d8f", namespace, ...controller("Deployment", "web", uidOf(d)) },
    spec: { replicas: 2, template }
  })
  const lonelyRs = api.seed({
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name: "lonely", namespace },
    spec: { replicas: 1, template }
  })
  const ss = api.seed(statefulSet(namespace, "db"))
  const ds = api.seed(daemonSet(namespace, "agent"))
  return {
    deployment: seeded(api.seed(pod(namespace, "web-5d8f-aaaaa", controller("ReplicaSet", "web-5d8f", uidOf(rs))))),
    deployment2: seeded(api.seed(pod(namespace, "web-5d8f-bbbbb", controller("ReplicaSet", "web-5d8f", uidOf(rs))))),
    replicaSet: seeded(api.seed(pod(namespace, "lonely-ccccc", controller("ReplicaSet", "lonely", uidOf(lonelyRs))))),
    statefulSet: seeded(api.seed(pod(namespace, "db-0", controller("StatefulSet", "db", uidOf(ss))))),
    daemonSet: seeded(api.seed(pod(namespace, "agent-x1", controller("DaemonSet", "agent", uidOf(ds))))),
    job: seeded(api.seed(pod(namespace, "batch-zzz", controller("Job", "batch", "job-uid", "batch/v1")))),
    bare: seeded(api.seed(pod(namespace, "bare")))
  }
}

export const restartedAt = "secrets-store.csi.k8s.io/restartedAt"

/** The stored workload, its template annotation and resourceVersion. */
export const workload = (api: FakeApiServer, kind: string, namespace: string, name: string) => {
  const o = api.store.get(resourceByKind(kind)!, namespace, name)!
  const annotations = ((o["spec"] as { template?: { metadata?: { annotations?: Record<string, string> } } }).template
    ?.metadata?.annotations ?? {}) as Record<string, string>
  return { object: o, annotation: annotations[restartedAt], resourceVersion: o.metadata["resourceVersion"] }
}

/** Replaces a stored object's status (a controller's progress). */
export const setStatus = (api: FakeApiServer, kind: string, namespace: string, name: string, status: object) => {
  const r = resourceByKind(kind)!
  const current = api.store.get(r, namespace, name)!
  api.store.replace(r, current, { ...current, status })
}

export const patchesOf = (api: FakeApiServer, plural: string, namespace: string, name: string) =>
  api.requestsMatching({ method: "PATCH", path: `/apis/apps/v1/namespaces/${namespace}/${plural}/${name}` })
