// `secrets-store watch`: mount, then republish on an interval with rotation on (poll interval = the interval), as
// kubelet's requiresRepublish calls would, printing what changed (paths and versions, never values), the
// SecretRotated Event text a driver would emit and the restart annotation it would write. SIGINT or SIGTERM
// interrupts the loop and the scope's finalizer unmounts.
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { formatGoDuration, parseGoDuration } from "../config/GoValues.js"
import type { PodStatusObject } from "../domain/SecretProviderClass.js"
import { EventsInMemory } from "../k8s/Events.js"
import { restartedAtAnnotation } from "../k8s/WorkloadRestart.js"
import { Publisher } from "../publish/Publisher.js"
import { restartDigest, restartOnRotationAnnotation, restartsOnRotation } from "../publish/RotationChanges.js"
import { rotatedReason } from "../publish/RotationReport.js"
import { usageError } from "./ExitCode.js"
import { kubeletUnpublishRequest } from "./KubeletRequest.js"
import { localDriverLayer } from "./LocalDriver.js"
import { headerLines, localObjects, snapshotOf } from "./MountReport.js"
import { mountFlags, type ResolvedMount, resolveMount } from "./MountFlags.js"
import { diffSnapshots, renderTree } from "./TargetTree.js"

const parseInterval = (text: string) => {
  const nanos = parseGoDuration(text)
  return nanos === undefined || nanos <= 0n
    ? Effect.fail(
        usageError(`--interval ${JSON.stringify(text)} must be a positive Go duration such as 500ms, 10s or 1m`)
      )
    : Effect.succeed(Duration.nanos(nanos))
}

const timestamp = Clock.currentTimeMillis.pipe(Effect.map((now) => new Date(now).toISOString()))

/** Mounted for the scope's lifetime: the unmount runs however the scope ends. */
const mountedForScope = (mount: ResolvedMount) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    const target = mount.request.targetPath
    yield* Effect.acquireRelease(publisher.publish(mount.request), () =>
      publisher.unpublish(kubeletUnpublishRequest(target)).pipe(
        Effect.andThen(Console.log(`unmounted ${target}`)),
        Effect.catch((error) => Console.error(`${error.reason}: unmounting ${target} failed: ${error.message}`))
      )
    )
    return publisher
  })

/** The SecretRotated Events the in-process driver recorded since the last call, with the restart it implies. */
const rotationLines = (mount: ResolvedMount) =>
  Effect.gen(function* () {
    const events = yield* EventsInMemory
    let seen = 0
    const { metadata } = mount.spc
    const optedIn = restartsOnRotation(metadata.annotations)
    return (objects: ReadonlyArray<PodStatusObject>) =>
      Effect.gen(function* () {
        const all = yield* events.list
        const fresh = all.slice(seen).filter((e) => e.reason === rotatedReason)
        seen = all.length
        if (fresh.length === 0) return []
        const annotation = `${restartedAtAnnotation}=${restartDigest(metadata, objects)}`
        return [
          ...fresh.map((e) => `event    Normal ${e.reason} pod ${e.pod.namespace}/${e.pod.name}: ${e.message}`),
          optedIn
            ? `restart  would patch the pod's workload template: ${annotation}`
            : `restart  off (${restartOnRotationAnnotation} is not "true"); it would write ${annotation}`
        ]
      })
  })

const watchLoop = (mount: ResolvedMount, interval: Duration.Duration) =>
  Effect.gen(function* () {
    const publisher = yield* mountedForScope(mount)
    const rotations = yield* rotationLines(mount)
    let previous = yield* snapshotOf(mount, localObjects(mount))
    yield* Console.log(
      [
        ...(yield* headerLines(mount, "this process")),
        ...renderTree(previous, false),
        `watching: republish every ${formatGoDuration(interval)}; Ctrl-C stops and unmounts`
      ].join("\n")
    )
    yield* Effect.forever(
      Effect.gen(function* () {
        yield* Effect.sleep(interval)
        // A failed republish keeps the old files (the Publisher logs it, with its reason), as on a node.
        yield* publisher.publish(mount.request)
        const next = yield* snapshotOf(mount, localObjects(mount))
        const changes = [...diffSnapshots(previous, next), ...(yield* rotations(next.objects ?? []))]
        previous = next
        const at = yield* timestamp
        if (changes.length > 0) yield* Console.log(changes.map((line) => `${at} ${line}`).join("\n"))
      })
    )
  }).pipe(Effect.scoped)

export const watchCommand = Command.make(
  "watch",
  {
    ...mountFlags,
    interval: Flag.String("interval").pipe(
      Flag.withDefault("10s"),
      Flag.withDescription("how often to republish (Go duration)")
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const interval = yield* parseInterval(flags.interval)
      const mount = yield* resolveMount(flags)
      yield* watchLoop(mount, interval).pipe(
        Effect.provide(
          localDriverLayer({
            kubeletRoot: mount.kubeletRoot,
            classes: [mount.spc],
            providerDirs: mount.providerDirs,
            rotationPollInterval: interval
          })
        )
      )
    })
).pipe(
  Command.withDescription("Mount, then republish on an interval and print what changed, until Ctrl-C; then unmount")
)
