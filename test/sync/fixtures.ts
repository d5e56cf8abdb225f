// A secret-sync world for tests: the fake API server, a temp kubelet root whose target directories are written by
// the real AtomicWriter, seeded Pods/SPCs/SPCPS, and the SecretSync layer started on the real KubeApi client.
import * as fs from "node:fs/promises"
import * as os from "node:os"
import { execFile, execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as nodePath from "node:path"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { group, nodeNameLabel } from "../../src/domain/SecretProviderClass.js"
import { KubeApi } from "../../src/k8s/KubeApi.js"
import {
  SecretSync,
  type SecretSyncOptions,
  type SecretSyncShape,
  type SyncedInfo,
  type SyncFailureInfo
} from "../../src/sync/SecretSync.js"
import { tmpfsMountDevice } from "../../src/mount/MountInfo.js"
import { Mounter } from "../../src/mount/Mounter.js"
import { AtomicWriter } from "../../src/writer/AtomicWriter.js"
import { validatePayload } from "../../src/writer/Payload.js"
import { fakeApiServer, type FakeApiServer, type KubeObject } from "../support/FakeApiServer.js"
import { resources } from "../support/FakeApiStore.js"

export const nodeId = "node-a"
export const driverName = "secrets-store.csi.k8s.io"
export const ns = "ns1"
export const volumeName = "secrets-store-inline"

export const resource = (plural: string) => resources.find((r) => r.plural === plural)!
export const secretsResource = resource("secrets")
export const statusResource = resource("secretproviderclasspodstatuses")

export interface PodOptions {
  readonly owners?: ReadonlyArray<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>
  readonly phase?: string
  readonly spc?: string
  readonly driver?: string
}

export const seedPod = (server: FakeApiServer, name: string, o: PodOptions = {}): KubeObject =>
  server.seed({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, ...(o.owners === undefined ? {} : { ownerReferences: o.owners }) },
    spec: {
      nodeName: nodeId,
      volumes: [
        { name: "token", projected: { sources: [] } },
        {
          name: volumeName,
          csi: {
            driver: o.driver ?? driverName,
            readOnly: true,
            volumeAttributes: { secretProviderClass: o.spc ?? "spc1" }
          }
        }
      ]
    },
    status: { phase: o.phase ?? "Running" }
  })

export const seedSpc = (server: FakeApiServer, name: string, secretObjects: ReadonlyArray<unknown> | undefined) =>
  server.seed({
    apiVersion: `${group}/v1`,
    kind: "SecretProviderClass",
    metadata: { name, namespace: ns },
    spec: { provider: "fake", parameters: { a: "b" }, ...(secretObjects === undefined ? {} : { secretObjects }) }
  })

export const uidOf = (o: KubeObject) => String(o.metadata["uid"])
export const targetPathFor = (root: string, podUid: string, vol = volumeName) =>
  nodePath.join(root, "pods", podUid, "volumes", "kubernetes.io~csi", vol, "mount")

export const seedStatus = (server: FakeApiServer, pod: KubeObject, spc: string, targetPath: string, node = nodeId) =>
  server.seed({
    apiVersion: `${group}/v1`,
    kind: "SecretProviderClassPodStatus",
    metadata: {
      name: `${String(pod.metadata["name"])}-${ns}-${spc}`,
      namespace: ns,
      labels: { [nodeNameLabel]: node },
      ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: pod.metadata["name"], uid: pod.metadata["uid"] }]
    },
    status: { podName: pod.metadata["name"], secretProviderClassName: spc, mounted: true, targetPath, objects: [] }
  })

/** A change of the status object the watch must deliver (what a republish's PodStatuses.upsert does). */
export const touchStatus = (server: FakeApiServer, name: string) => {
  const current = server.store.get(statusResource, ns, name)!
  const next = {
    ...current,
    status: { ...(current["status"] as object), objects: [{ id: "o", version: String(Date.now()) }] }
  }
  return server.store.replace(statusResource, current, next)
}

export const secretOf = (server: FakeApiServer, name: string) => server.store.get(secretsResource, ns, name)
export const decoded = (secret: KubeObject | undefined, key: string) =>
  Buffer.from(String((secret?.["data"] as Record<string, string> | undefined)?.[key] ?? ""), "base64").toString(
    "latin1"
  )

/** Mounts `files` in `target` on a real tmpfs through the real AtomicWriter, as a publish would. */
export const writeFiles = (target: string, files: Record<string, string>) =>
  Effect.gen(function* () {
    yield* Effect.promise(() => fs.mkdir(target, { recursive: true }))
    const device = yield* Effect.promise(() => tmpfsMountDevice(target))
    if (device === undefined) execFileSync("mount", ["-t", "tmpfs", "tmpfs", target])
    const payload = yield* validatePayload(
      Object.entries(files).map(([path, text]) => ({ path, mode: 0o644, contents: Buffer.from(text, "latin1") }))
    )
    const writer = yield* AtomicWriter
    yield* writer.write(target, payload)
  }).pipe(Effect.provide(AtomicWriter.layer), Effect.orDie)

/** Mount points under `dir`, deepest first (octal escapes of /proc/self/mountinfo decoded). */
export const mountsUnder = (dir: string) =>
  readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) =>
      line.split(" ")[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)))
    )
    .filter((p): p is string => p !== undefined && p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length)

const umount = (args: ReadonlyArray<string>) =>
  new Promise<string | undefined>((resolve) =>
    execFile("umount", args, (error, _stdout, stderr) =>
      resolve(error === null ? undefined : stderr.trim() || error.message)
    )
  )

/** How each mount under `dir` went away: "unmounted", "lazy" (still busy at the deadline) or why it could not. */
export type UnmountReport = ReadonlyMap<string, string>

/**
 * Unmounts every mount under `dir`, each one even when another fails: a busy mount (a reader still has a file
 * open) is retried until `busyMillis` have passed, then detached lazily (`umount -l`) as the last resort.
 */
export const unmountAll = async (dir: string, busyMillis = 15_000): Promise<UnmountReport> => {
  const report = new Map<string, string>()
  for (const mount of mountsUnder(dir)) {
    const deadline = Date.now() + busyMillis
    let error = await umount([mount])
    while (error !== undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      error = await umount([mount])
    }
    if (error === undefined) report.set(mount, "unmounted")
    else {
      const lazy = await umount(["-l", mount])
      report.set(mount, lazy === undefined ? "lazy" : `not unmounted: ${error}; umount -l: ${lazy}`)
    }
  }
  return report
}

/**
 * A temp kubelet root, removed with every mount under it. A mount that needed `umount -l` is reported on stderr; one
 * that could not be unmounted at all fails the test (its files are left in place, not deleted through the mount).
 */
export const tempRoot = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(nodePath.join(os.tmpdir(), "secret-sync-"))),
  (dir) =>
    Effect.promise(async () => {
      const report = await unmountAll(dir)
      const lazy = [...report].filter(([, how]) => how === "lazy").map(([mount]) => mount)
      const failed = [...report].filter(([, how]) => how !== "lazy" && how !== "unmounted")
      if (lazy.length > 0) console.warn(`teardown: busy mounts detached with umount -l: ${lazy.join(", ")}`)
      if (failed.length > 0) {
        throw new Error(`teardown: mounts left: ${failed.map(([m, how]) => `${m} (${how})`).join(", ")}`)
      }
      await fs.rm(dir, { recursive: true, force: true })
    })
)

/** Polls `check` until it returns a value (real time). */
export const eventually = <A>(what: string, check: () => A | undefined | false, timeoutMillis = 15_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMillis
    for (;;) {
      const value = check()
      if (value !== undefined && value !== false) return value
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("20 millis")
    }
  })

export interface World {
  readonly server: FakeApiServer
  readonly root: string
  readonly synced: Array<SyncedInfo>
  readonly failures: Array<SyncFailureInfo>
  /** Starts the controller in the current scope, reading volumes through `volumes` (the live Mounter and writer). */
  readonly start: (
    options?: Partial<SecretSyncOptions>,
    volumes?: Layer.Layer<Mounter | AtomicWriter>
  ) => Effect.Effect<SecretSyncShape>
}

export const world = Effect.gen(function* () {
  const server = yield* fakeApiServer()
  const root = yield* tempRoot
  const synced: Array<SyncedInfo> = []
  const failures: Array<SyncFailureInfo> = []
  // Acquired after the root, so released before it: the controllers stop (and finish any read) before the unmounts.
  const scope = yield* Effect.acquireRelease(Scope.make(), (controllers) => Scope.close(controllers, Exit.void))
  const start = (
    options: Partial<SecretSyncOptions> = {},
    volumes: Layer.Layer<Mounter | AtomicWriter> = Layer.mergeAll(Mounter.layer, AtomicWriter.layer)
  ) =>
    Layer.buildWithScope(
      SecretSync.layer({
        nodeId,
        driverName,
        kubeletRootDir: root,
        onSynced: (info) => Effect.sync(() => void synced.push(info)),
        onFailure: (info) => Effect.sync(() => void failures.push(info)),
        ...options
      }).pipe(
        Layer.provide(volumes),
        Layer.provide(KubeApi.layer({ kubeconfig: server.kubeconfigPath })),
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({})))
      ),
      scope
    ).pipe(Effect.map((ctx) => Context.get(ctx, SecretSync)))
  return { server, root, synced, failures, start } satisfies World
})
