// The driver's own publish path, composed for one laptop process: the real Publisher, provider client, atomic
// writer and (as root) tmpfs mounter; only Kubernetes is replaced, by the SPC from a file and in-memory pod
// statuses. Nothing here re-implements a step: it is Driver.ts's publisher with two layers swapped.
import * as os from "node:os"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { defaultDriverConfig } from "../config/DriverConfig.js"
import type { SecretProviderClass } from "../domain/SecretProviderClass.js"
import { Events } from "../k8s/Events.js"
import { PodStatuses } from "../k8s/PodStatuses.js"
import { WorkloadRestart } from "../k8s/WorkloadRestart.js"
import { Metrics } from "../metrics/Metrics.js"
import { SecretProviderClasses } from "../k8s/SecretProviderClasses.js"
import { Mounter } from "../mount/Mounter.js"
import { TargetLocks } from "../mount/TargetLocks.js"
import { ProviderClient } from "../provider/ProviderClient.js"
import { PublishedLayout } from "../publish/PublishedLayout.js"
import { Publisher } from "../publish/Publisher.js"
import { AtomicWriter } from "../writer/AtomicWriter.js"

export interface LocalDriverOptions {
  /** The kubelet root of the target (from its path): confinement as on a node, to the tree the user named. */
  readonly kubeletRoot: string
  /** What the in-memory "cluster" holds; empty for unmount. */
  readonly classes: ReadonlyArray<SecretProviderClass>
  /** Socket directories in search order; the driver's defaults when empty. */
  readonly providerDirs: ReadonlyArray<string>
  /** Re-fetch an already mounted target when its last write is at least this old (0: always). */
  readonly rotationPollInterval: Duration.Duration
}

/** The driver's default search order: additional (legacy /etc) paths, then --provider-volume. */
export const defaultProviderDirs: ReadonlyArray<string> = [
  ...defaultDriverConfig.additionalProviderVolumePaths,
  defaultDriverConfig.providerVolume
]

/** Only root may mount tmpfs; anyone else gets the in-memory mounter over a plain directory. */
const canMountTmpfs = (): boolean => process.getuid?.() === 0

const mounterLayer = (): Layer.Layer<Mounter> =>
  canMountTmpfs()
    ? Mounter.layer
    : Layer.effectDiscard(
        Effect.sync(() =>
          process.stderr.write(
            "warning: not root, so no tmpfs: files go to a plain directory (same layout, not in memory)\n"
          )
        )
      ).pipe(Layer.provideMerge(Mounter.layerInMemory))

export const localDriverLayer = (options: LocalDriverOptions) =>
  Publisher.layer({
    nodeId: os.hostname(),
    kubeletRoot: options.kubeletRoot,
    enableSecretRotation: true,
    rotationPollInterval: options.rotationPollInterval
  }).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        mounterLayer(),
        TargetLocks.layer,
        AtomicWriter.layer,
        PublishedLayout.layer,
        SecretProviderClasses.layerInMemory(options.classes),
        PodStatuses.layerInMemory,
        // No pod to put a Warning Event on, no scraper for metrics: both stay in this process.
        Events.layerInMemory,
        // No workload to restart: the request a rotation makes is recorded (and `watch` prints it).
        WorkloadRestart.layerInMemory,
        Metrics.layer,
        ProviderClient.layer({
          providerDirs: options.providerDirs.length > 0 ? options.providerDirs : defaultProviderDirs,
          maxCallRecvMsgSize: defaultDriverConfig.maxCallRecvMsgSize,
          maxProviderFiles: defaultDriverConfig.maxProviderFiles,
          providerTimeout: defaultDriverConfig.providerTimeout,
          healthCheck: false,
          healthCheckInterval: defaultDriverConfig.providerHealthCheckInterval
        })
      )
    )
  )
