// What the CLI reports after a publish: the mount (what the kernel says is at the target, not what we
// assume), the pod, the visible files and, when the pod status is in this process, its object versions.
import * as Effect from "effect/Effect"
import { podStatusName } from "../domain/SecretProviderClass.js"
import { PodStatusesInMemory } from "../k8s/PodStatuses.js"
import { Mounter } from "../mount/Mounter.js"
import { readTarget } from "../writer/AtomicWriter.js"
import type { ResolvedMount } from "./MountFlags.js"
import type { TargetSnapshot } from "./TargetTree.js"

/** The object versions of this mount's pod status, as the in-process driver recorded them. */
export const localObjects = (mount: ResolvedMount) =>
  Effect.gen(function* () {
    const name = podStatusName(mount.pod.name, mount.pod.namespace, mount.spc.metadata.name)
    const status = (yield* (yield* PodStatusesInMemory).list).find((s) => s.metadata.name === name)
    return status?.status.objects ?? []
  })

export const snapshotOf = <E, R>(mount: ResolvedMount, objects: Effect.Effect<TargetSnapshot["objects"], E, R>) =>
  Effect.gen(function* () {
    const files = yield* readTarget(mount.request.targetPath)
    return { files, objects: yield* objects } satisfies TargetSnapshot
  })

const describeMount = (target: string) =>
  Effect.gen(function* () {
    const state = yield* (yield* Mounter).mountState(target)
    return state._tag === "Mounted" ? state.fsType : "plain directory"
  }).pipe(
    Effect.provide(Mounter.layer),
    Effect.orElseSucceed(() => "unknown")
  )

export const headerLines = (mount: ResolvedMount, via: string) =>
  describeMount(mount.request.targetPath).pipe(
    Effect.map((fsType) => [
      `mounted ${mount.spc.metadata.namespace}/${mount.spc.metadata.name} ` +
        `(provider ${mount.spc.spec.provider ?? ""}) at ${mount.request.targetPath} (${fsType}) via ${via}`,
      `pod ${mount.pod.namespace}/${mount.pod.name} uid ${mount.pod.uid} service account ${mount.pod.serviceAccount}`
    ])
  )
