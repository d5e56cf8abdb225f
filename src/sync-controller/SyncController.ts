// The composition root of secrets-store-sync-controller: which live layers make the program (KubeApi, the provider
// client, Events, metrics), the two HTTP ports, and the control loop, run at once or only while this replica
// holds the leader Lease (--leader-elect).
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ConfigError } from "../config/ConfigError.js"
import { Logging } from "../config/Logging.js"
import { Events } from "../k8s/Events.js"
import { KubeApi } from "../k8s/KubeApi.js"
import { serviceAccountDir } from "../k8s/KubeConfigSource.js"
import { ProviderClient } from "../provider/ProviderClient.js"
import type { SyncControllerConfig } from "./ControllerConfig.js"
import { ControllerMetrics } from "./ControllerMetrics.js"
import { runController } from "./Controller.js"
import { serveEndpoints } from "./HttpEndpoints.js"
import { LEASE_NAME, makeLeaderElector } from "./LeaderElection.js"
import type { ControllerPod } from "./SecretData.js"
import { makeSyncHasher } from "./SyncHash.js"
import { makeTokenSource } from "./Tokens.js"

/** The downward-API variables of upstream's chart. */
export interface ControllerEnv {
  readonly SYNC_CONTROLLER_POD_NAME?: string | undefined
  readonly SYNC_CONTROLLER_POD_UID?: string | undefined
  readonly SYNC_CONTROLLER_POD_NAMESPACE?: string | undefined
}

const inClusterNamespace = (): string | undefined => {
  try {
    return fs.readFileSync(nodePath.join(serviceAccountDir, "namespace"), "utf8").trim() || undefined
  } catch {
    return undefined
  }
}

const leaseNamespace = (config: SyncControllerConfig, env: ControllerEnv) =>
  config.leaderElectionNamespace || env.SYNC_CONTROLLER_POD_NAMESPACE || inClusterNamespace()

const program = (config: SyncControllerConfig, env: ControllerEnv) =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const metrics = yield* ControllerMetrics
    yield* serveEndpoints(metrics, { metrics: config.metricsAddr, health: config.healthProbeAddr })
    const pod: ControllerPod = { name: env.SYNC_CONTROLLER_POD_NAME ?? "", uid: env.SYNC_CONTROLLER_POD_UID ?? "" }
    const work = runController(
      {
        api,
        providers: yield* ProviderClient,
        tokens: makeTokenSource(api),
        hasher: makeSyncHasher(),
        audiences: config.audiences,
        pod,
        events: yield* Events,
        metrics
      },
      {
        rotationPollInterval: config.rotationPollInterval,
        minRefreshInterval: config.minRefreshInterval,
        secretReapplyInterval: config.secretReapplyInterval
      }
    )
    if (!config.leaderElect) {
      yield* metrics.setLeader(true)
      return yield* work
    }
    const namespace = leaseNamespace(config, env)
    if (namespace === undefined) {
      return yield* new ConfigError({ message: "--leader-elect needs --leader-election-namespace outside a cluster" })
    }
    const identity = `${pod.name || os.hostname()}_${randomUUID()}`
    return yield* makeLeaderElector(api, { namespace, name: LEASE_NAME, identity }).lead(work, metrics.setLeader)
  }).pipe(Effect.scoped)

export const runSyncController = (config: SyncControllerConfig, env: ControllerEnv) => {
  const kube = KubeApi.layer({ kubeconfig: config.kubeconfig })
  const providers = ProviderClient.layer({
    providerDirs: [nodePath.resolve(config.providerVolume)],
    maxCallRecvMsgSize: config.maxCallRecvMsgSize,
    maxProviderFiles: 10_000,
    providerTimeout: config.providerTimeout,
    healthCheck: false,
    healthCheckInterval: Duration.minutes(2)
  })
  const events = Events.layer({ nodeId: env.SYNC_CONTROLLER_POD_NAME || os.hostname() })
  return program(config, env).pipe(
    Effect.provide(Layer.mergeAll(events.pipe(Layer.provideMerge(kube)), providers, ControllerMetrics.layer)),
    Effect.provide(Logging.layer(config, "sync-controller"))
  )
}
