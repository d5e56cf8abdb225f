// Shared fixtures of the Publisher tests: an SPC, kubelet's request, and the Publisher wired to
// in-memory neighbours with a real ProviderClient talking to a TestProvider over a unix socket.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { decodePublish } from "../../src/csi/NodeRequests.js"
import type { PublishRequest } from "../../src/domain/PublishRequest.js"
import type { SecretProviderClass } from "../../src/domain/SecretProviderClass.js"
import { Events } from "../../src/k8s/Events.js"
import { PodStatuses } from "../../src/k8s/PodStatuses.js"
import { WorkloadRestart } from "../../src/k8s/WorkloadRestart.js"
import { Metrics } from "../../src/metrics/Metrics.js"
import { SecretProviderClasses } from "../../src/k8s/SecretProviderClasses.js"
import { Mounter } from "../../src/mount/Mounter.js"
import { TargetLocks } from "../../src/mount/TargetLocks.js"
import { ProviderClient } from "../../src/provider/ProviderClient.js"
import { PublishedLayout } from "../../src/publish/PublishedLayout.js"
import { Publisher, type PublishOptions } from "../../src/publish/Publisher.js"
import { PublishReport } from "../../src/publish/PublishReport.js"
import { AtomicWriter } from "../../src/writer/AtomicWriter.js"
import type { NodePublishVolumeRequest } from "../../src/gen/csi/v1/csi.js"
import { publishRequest } from "../support/CsiClient.js"

export const spc = (
  namespace: string,
  name: string,
  spec: { provider?: string; parameters?: Record<string, string> }
): SecretProviderClass => ({
  apiVersion: "secrets-store.csi.x-k8s.io/v1",
  kind: "SecretProviderClass",
  metadata: { name, namespace },
  spec
})

/** The kubelet root of these tests (one per test file): every target lies under it. */
export const kubeletRoot = fs.mkdtempSync(path.join(os.tmpdir(), "publish-"))

let targets = 0

/** A fresh kubelet-shaped target path under kubeletRoot (not created). */
export const tempTarget = () =>
  path.join(kubeletRoot, "pods", `uid-${++targets}`, "volumes", "kubernetes.io~csi", "v", "mount")

export const request = (
  target: string,
  overrides: Partial<NodePublishVolumeRequest> = {}
): Effect.Effect<PublishRequest> =>
  decodePublish(publishRequest({ targetPath: target, ...overrides }), kubeletRoot).pipe(Effect.orDie)

export const defaultOptions: PublishOptions = {
  nodeId: "node-a",
  kubeletRoot,
  enableSecretRotation: false,
  rotationPollInterval: Duration.minutes(2)
}

/** The real provider client on the test provider's socket directory, with short retries. */
const testProviderClient = (providerDir: string, providerTimeout: Duration.Duration) =>
  ProviderClient.layer({
    providerDirs: [providerDir],
    maxCallRecvMsgSize: 4 * 1024 * 1024,
    maxProviderFiles: 10_000,
    providerTimeout,
    healthCheck: false,
    healthCheckInterval: Duration.minutes(2),
    retryBaseDelay: Duration.millis(10)
  })

/**
 * The Publisher (and the report the CSI edge shares with it) on in-memory neighbours (exposed with their test handles)
 * and a real provider client.
 */
export const publisherWith = (
  providerDir: string,
  classes: ReadonlyArray<SecretProviderClass>,
  options: Partial<PublishOptions> = {}
) =>
  Layer.merge(Publisher.layer({ ...defaultOptions, ...options }), PublishReport.layer).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        Mounter.layerInMemory,
        TargetLocks.layer,
        PublishedLayout.layerInMemory.pipe(Layer.provideMerge(AtomicWriter.layerInMemory)),
        SecretProviderClasses.layerInMemory(classes),
        PodStatuses.layerInMemory,
        Events.layerInMemory,
        WorkloadRestart.layerInMemory,
        Metrics.layer,
        testProviderClient(providerDir, Duration.millis(500))
      )
    )
  )

/** The Publisher on the real mounter, writer and layout check (real tmpfs mounts), the Kubernetes side in memory. */
export const livePublisherWith = (
  providerDir: string,
  classes: ReadonlyArray<SecretProviderClass>,
  options: Partial<PublishOptions> = {}
) =>
  Publisher.layer({ ...defaultOptions, ...options }).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        Mounter.layer,
        TargetLocks.layer,
        AtomicWriter.layer,
        PublishedLayout.layer,
        SecretProviderClasses.layerInMemory(classes),
        PodStatuses.layerInMemory,
        Events.layerInMemory,
        WorkloadRestart.layerInMemory,
        Metrics.layer,
        testProviderClient(providerDir, Duration.seconds(5))
      )
    )
  )
