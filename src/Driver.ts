// The composition root: which live layers make the driver. Each concern is one layer; tests swap
// any of them for an in-memory one.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { BuildInfo } from "./config/BuildInfo.js"
import { DriverConfig, type DriverConfigShape } from "./config/DriverConfig.js"
import { loggerLayer } from "./config/Logging.js"
import { pprofLayer } from "./config/Pprof.js"
import { serveCsi } from "./csi/GrpcServer.js"
import { KubeApi } from "./k8s/KubeApi.js"
import { PodStatuses } from "./k8s/PodStatuses.js"
import { SecretProviderClasses } from "./k8s/SecretProviderClasses.js"
import { Mounter } from "./mount/Mounter.js"
import { TargetLocks } from "./mount/TargetLocks.js"
import { ProviderClient } from "./provider/ProviderClient.js"
import { publisherLayer } from "./publish/PublishVolume.js"
import { AtomicWriter } from "./writer/AtomicWriter.js"

const kubernetesLayer = (config: DriverConfigShape) =>
  Layer.mergeAll(SecretProviderClasses.layer, PodStatuses.layer).pipe(
    Layer.provide(KubeApi.layer({ kubeconfig: Option.getOrUndefined(config.kubeconfig) }))
  )

const providerLayer = (config: DriverConfigShape) =>
  ProviderClient.layer({
    // Upstream searches the additional (legacy /etc) paths before --provider-volume.
    providerDirs: [...config.additionalProviderVolumePaths, config.providerVolume],
    maxCallRecvMsgSize: config.maxCallRecvMsgSize,
    providerTimeout: config.providerTimeout,
    healthCheck: config.providerHealthCheck,
    healthCheckInterval: config.providerHealthCheckInterval
  })

const publishLayer = (config: DriverConfigShape) =>
  publisherLayer({
    nodeId: config.nodeId,
    enableSecretRotation: config.enableSecretRotation,
    rotationPollInterval: config.rotationPollInterval
  }).pipe(
    Layer.provide(Layer.mergeAll(
      Mounter.layer, TargetLocks.layer, AtomicWriter.layer, kubernetesLayer(config), providerLayer(config)
    ))
  )

const serverLayer = (config: DriverConfigShape) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const build = yield* BuildInfo
    yield* serveCsi({
      endpoint: config.endpoint,
      identity: { name: config.driverName, vendorVersion: build.buildVersion },
      nodeId: config.nodeId
    })
  }))

export const driverLayer = (config: DriverConfigShape) =>
  serverLayer(config).pipe(
    Layer.provide(Layer.mergeAll(publishLayer(config), BuildInfo.layer)),
    Layer.provideMerge(Layer.mergeAll(DriverConfig.layer(config), pprofLayer(config))),
    Layer.provide(loggerLayer(config))
  )
