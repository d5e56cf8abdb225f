// The composition root: which live layers make the driver. Each concern is one layer; tests swap
// any of them for an in-memory one.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { BuildInfo } from "./config/BuildInfo.js"
import type { DriverConfigShape } from "./config/DriverConfig.js"
import { Logging } from "./config/Logging.js"
import { Pprof } from "./config/Pprof.js"
import { serveCsi } from "./csi/GrpcServer.js"
import { KubeletRoot } from "./csi/NodeRequests.js"
import { KubeApi } from "./k8s/KubeApi.js"
import { PodStatuses } from "./k8s/PodStatuses.js"
import { SecretProviderClasses } from "./k8s/SecretProviderClasses.js"
import { WorkloadRestart } from "./k8s/WorkloadRestart.js"
import { Mounter } from "./mount/Mounter.js"
import { TargetLocks } from "./mount/TargetLocks.js"
import { stateValue } from "./provider/CircuitBreaker.js"
import { ProviderClient } from "./provider/ProviderClient.js"
import { PublishedLayout } from "./publish/PublishedLayout.js"
import { Publisher } from "./publish/Publisher.js"
import { PublishReport } from "./publish/PublishReport.js"
import { AtomicWriter } from "./writer/AtomicWriter.js"
import { ApiServerReadiness } from "./k8s/ApiServerReadiness.js"
import { Events } from "./k8s/Events.js"
import { circuitsCheck, csiProbe, providersCheck } from "./metrics/HealthChecks.js"
import { Metrics } from "./metrics/Metrics.js"
import { MetricsServer } from "./metrics/MetricsServer.js"
import { SecretSync } from "./sync/SecretSync.js"

/** The secret sync controller, reporting to the same metrics and Events as the publisher. */
const secretSyncLayer = (config: DriverConfigShape) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const metrics = yield* Metrics
      const events = yield* Events
      // Without any cluster config there is nothing to watch; publishes still report their own errors.
      if ((yield* KubeApi).source._tag === "None") return Layer.empty
      // Nothing asks for the SecretSync service: it runs for its effects, as long as the driver does.
      return Layer.empty.pipe(
        Layer.provide(
          SecretSync.layer({
            nodeId: config.nodeId,
            driverName: config.driverName,
            kubeletRootDir: config.kubeletRootDir,
            onSynced: ({ provider, seconds }) => metrics.secretSynced(provider, seconds),
            // Upstream's reason, so existing alerts keep matching; our typed reason leads the message.
            onFailure: ({ pod, reason, message }) =>
              events.warning({
                pod,
                reason: "FailedToCreateSecret",
                message: `${reason}: ${message}`,
                component: "csi-secrets-store-controller"
              })
          }).pipe(Layer.provide(Layer.mergeAll(Mounter.layer, AtomicWriter.layer)))
        )
      )
    })
  )

/** The opt-in restart of a pod's workload after a rotation, counted in the driver's metrics. */
const workloadRestartLayer = (config: DriverConfigShape) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const metrics = yield* Metrics
      return WorkloadRestart.layer({ cooldown: config.restartCooldown, onResult: metrics.rotationRestart })
    })
  )

/** The cluster-facing layers on one KubeApi: SPC lookup, pod statuses, Events, readiness, secret sync. */
const kubernetesLayer = (config: DriverConfigShape) =>
  Option.match(config.standaloneClasses, {
    onNone: () => {
      const kube = KubeApi.layer({ kubeconfig: Option.getOrUndefined(config.kubeconfig) })
      const events = Events.layer({ nodeId: config.nodeId })
      return Layer.mergeAll(
        SecretProviderClasses.layer,
        PodStatuses.layer,
        ApiServerReadiness.layer,
        secretSyncLayer(config),
        workloadRestartLayer(config)
      ).pipe(Layer.provideMerge(events), Layer.provide(kube))
    },
    // --standalone-classes: SPCs from files, statuses in memory, no API server; loaded only when asked for.
    onSome: (dir) =>
      Layer.unwrap(
        Effect.promise(() => import("./standalone/StandaloneKubernetes.js")).pipe(
          Effect.map((standalone) =>
            Layer.mergeAll(
              standalone.StandaloneKubernetes.layer(dir).pipe(Layer.provide(AtomicWriter.layer)),
              Events.layerInMemory,
              // No API server to patch: the restart a rotation asks for is logged with the value it would write.
              WorkloadRestart.layerInMemory
            )
          )
        )
      )
  })

const providerLayer = (config: DriverConfigShape) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const metrics = yield* Metrics
      return ProviderClient.layer({
        // Upstream searches the additional (legacy /etc) paths before --provider-volume.
        providerDirs: [...config.additionalProviderVolumePaths, config.providerVolume],
        maxCallRecvMsgSize: config.maxCallRecvMsgSize,
        maxProviderFiles: config.maxProviderFiles,
        providerTimeout: config.providerTimeout,
        healthCheck: config.providerHealthCheck,
        healthCheckInterval: config.providerHealthCheckInterval,
        circuitThreshold: config.providerCircuitThreshold,
        maxConcurrentCalls: config.providerMaxConcurrentCalls,
        report: {
          mountEnded: metrics.providerMountEnded,
          circuitChanged: (provider, state) => metrics.providerCircuitState(provider, stateValue(state)),
          healthChecked: metrics.providerHealthStatus
        }
      })
    })
  )

const serverLayer = (config: DriverConfigShape) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const build = yield* BuildInfo
      yield* serveCsi({
        endpoint: config.endpoint,
        identity: { name: config.driverName, vendorVersion: build.buildVersion },
        nodeId: config.nodeId
      })
    })
  )

/** /metrics, /healthz (a real Probe of our own socket) and /readyz on --metrics-addr. */
const metricsServerLayer = (config: DriverConfigShape) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const providers = yield* ProviderClient
      // Standalone mode provides no ApiServerReadiness: there is no API server to check.
      const api = yield* Effect.serviceOption(ApiServerReadiness)
      const checks = [
        ...(Option.isSome(api) ? [{ name: "apiserver", check: api.value.check }] : []),
        ...(config.providerHealthCheck ? [{ name: "providers", check: providersCheck(providers.health) }] : []),
        { name: "provider-circuits", check: circuitsCheck(providers.circuits) }
      ]
      return MetricsServer.layer({
        host: config.metricsAddr.host,
        port: config.metricsAddr.port,
        probe: csiProbe(config.endpoint),
        checks
      })
    })
  )

/**
 * One instance of each shared layer: the publisher, the metrics server and secret sync see the
 * same KubeApi, provider channels and metrics registry.
 */
export const driverLayer = (config: DriverConfigShape) => {
  const shared = Layer.mergeAll(kubernetesLayer(config), providerLayer(config)).pipe(Layer.provideMerge(Metrics.layer))
  const publisher = Publisher.layer({
    nodeId: config.nodeId,
    kubeletRoot: config.kubeletRootDir,
    enableSecretRotation: config.enableSecretRotation,
    rotationPollInterval: config.rotationPollInterval,
    nodeCacheMaxBytes: config.nodeCacheMaxBytes
  }).pipe(
    Layer.provide(
      Layer.mergeAll(
        Mounter.layerWith({ tmpfsSizeLimit: config.tmpfsSizeLimit }),
        TargetLocks.layer,
        AtomicWriter.layer,
        PublishedLayout.layer
      )
    ),
    // The CSI edge refuses a target outside the same kubelet root, before the publisher sees it.
    // The CSI edge reports the requests it refuses as the publisher reports its failures.
    Layer.merge(PublishReport.layer),
    Layer.merge(Layer.succeed(KubeletRoot, config.kubeletRootDir))
  )
  const csi = serverLayer(config).pipe(Layer.provide(Layer.mergeAll(publisher, BuildInfo.layer)))
  return Layer.mergeAll(csi, metricsServerLayer(config)).pipe(
    Layer.provide(shared),
    Layer.provideMerge(Pprof.layer(config)),
    Layer.provide(Logging.layer(config, "driver"))
  )
}
