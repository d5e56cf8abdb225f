// `secrets-store mount` and `unmount`: one kubelet NodePublishVolume / NodeUnpublishVolume through the driver's
// real Publisher, in this process (LocalDriver.ts) or over a running driver's socket (`--endpoint`), then the
// resulting tree. The tmpfs outlives the process, as a pod's does.
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as fs from "node:fs/promises"
import { Publisher } from "../publish/Publisher.js"
import { csiPublisherLayer } from "./CsiPublisher.js"
import { kubeletUnpublishRequest } from "./KubeletRequest.js"
import { localDriverLayer } from "./LocalDriver.js"
import { mountFlags, type ResolvedMount, resolveMount, resolveTarget } from "./MountFlags.js"
import { headerLines, localObjects, snapshotOf } from "./MountReport.js"
import { renderTree, type TargetSnapshot } from "./TargetTree.js"

const endpointFlag = Flag.String("endpoint").pipe(
  Flag.optional,
  Flag.withDescription("a running driver's CSI socket (unix://PATH): publish through it instead of in this process")
)

const exists = (path: string) =>
  Effect.promise(() =>
    fs.access(path).then(
      () => true,
      () => false
    )
  )

const publishAndShow = <R>(
  mount: ResolvedMount,
  showValues: boolean,
  via: string,
  objects: Effect.Effect<TargetSnapshot["objects"], never, R>
) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    const target = mount.request.targetPath
    const existed = yield* exists(target)
    // A pod whose volume never mounted is deleted, and kubelet's cleanup removes the directory: do the same
    // for a directory this run created, so a failed try leaves nothing behind.
    yield* publisher
      .publish(mount.request)
      .pipe(
        Effect.onError(() =>
          existed ? Effect.void : Effect.ignore(publisher.unpublish(kubeletUnpublishRequest(target)))
        )
      )
    const snapshot = yield* snapshotOf(mount, objects)
    yield* Console.log([...(yield* headerLines(mount, via)), ...renderTree(snapshot, showValues)].join("\n"))
  })

const mountOnce = (mount: ResolvedMount, showValues: boolean, endpoint: Option.Option<string>) =>
  Option.match(endpoint, {
    onSome: (address) =>
      // The versions live in the driver's pod status (its log shows them).
      publishAndShow(mount, showValues, address, Effect.succeed(undefined)).pipe(
        Effect.provide(csiPublisherLayer(address))
      ),
    onNone: () =>
      publishAndShow(mount, showValues, "this process", localObjects(mount)).pipe(
        // The failure is printed once, as the reason line; the publisher's own warning would say it twice.
        Effect.provideService(References.MinimumLogLevel, "Error"),
        // Poll interval 0: mounting again over a mounted target re-fetches, like a rotation.
        Effect.provide(
          localDriverLayer({
            kubeletRoot: mount.kubeletRoot,
            classes: [mount.spc],
            providerDirs: mount.providerDirs,
            rotationPollInterval: Duration.zero
          })
        )
      )
  })

export const mountCommand = Command.make(
  "mount",
  {
    ...mountFlags,
    endpoint: endpointFlag,
    showValues: Flag.Boolean("show-values").pipe(
      Flag.withDefault(false),
      Flag.withDescription("print file contents instead of <redacted>")
    )
  },
  (flags) => resolveMount(flags).pipe(Effect.flatMap((mount) => mountOnce(mount, flags.showValues, flags.endpoint)))
).pipe(Command.withDescription("Publish a volume as kubelet would: the driver's real publish path, without a cluster"))

export const unmountCommand = Command.make(
  "unmount",
  {
    target: Flag.String("target").pipe(Flag.withDescription("the mounted target: kubelet's volume path")),
    endpoint: endpointFlag
  },
  (flags) =>
    Effect.gen(function* () {
      const { targetPath, kubeletRoot } = yield* resolveTarget(flags.target)
      yield* Effect.gen(function* () {
        yield* (yield* Publisher).unpublish(kubeletUnpublishRequest(targetPath))
        yield* Console.log(`unmounted ${targetPath}`)
      }).pipe(
        Effect.provide(
          Option.match(flags.endpoint, {
            onSome: csiPublisherLayer,
            onNone: () =>
              localDriverLayer({ kubeletRoot, classes: [], providerDirs: [], rotationPollInterval: Duration.zero })
          })
        )
      )
    })
).pipe(Command.withDescription("Unpublish a volume as kubelet would: unmount the tmpfs and remove the directory"))
