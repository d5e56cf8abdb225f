// The whole node for stress and fault tests: the built driver as a child process (restartable, killable with
// SIGKILL), a TestProvider on a temp socket in this process, the fake API server holding the SPC, and a
// "kubelet root" temp dir whose every entry a test can snapshot. Plus the filesystem probes those tests share:
// mounts under a root (from /proc/self/mountinfo), a hashed tree listing, and a read through one `..data`.
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { NodePublishVolumeRequest } from "../../src/gen/csi/v1/csi.js"
import { parseMountInfo } from "../../src/mount/MountInfo.js"
import { connectCsi, publishRequest } from "./CsiClient.js"
import { eventually, startProgram, type RunningProcess } from "./ChildProcess.js"
import { FakeApiServer } from "./FakeApiServer.js"
import { makeTestProvider, type TestFile, type TestProvider } from "./TestProvider.js"

export const SPC_NAME = "stress-spc"

export const stressSpc = {
  apiVersion: "secrets-store.csi.x-k8s.io/v1",
  kind: "SecretProviderClass",
  metadata: { name: SPC_NAME, namespace: "default" },
  spec: { provider: "test", parameters: { objects: "- objectName: a" } }
}

export interface StressNode {
  /** Temp dir holding everything below; removed by close(). */
  readonly base: string
  /** The kubelet root: every target lives under it, and nothing else does. */
  readonly kubelet: string
  readonly api: FakeApiServer
  readonly provider: TestProvider
  readonly driver: () => RunningProcess
  readonly csi: () => ReturnType<typeof connectCsi>
  /** Stops the driver (SIGTERM, or SIGKILL for a crash) and waits for its exit. */
  readonly stopDriver: (signal?: NodeJS.Signals) => Promise<void>
  /** Starts a fresh driver with the same flags and waits until it answers Probe. */
  readonly startDriver: () => Promise<void>
  /** Stops every process, unmounts everything under the temp dir, removes it. */
  readonly close: () => Promise<void>
}

export interface StressNodeOptions {
  /** Extra driver flags, after the defaults (so they win). */
  readonly driverArgs?: ReadonlyArray<string>
  /** Extra environment of the driver process (e.g. the deployment's NODE_OPTIONS). */
  readonly driverEnv?: NodeJS.ProcessEnv
  /** Annotations of the seeded SecretProviderClass (e.g. the node cache's max staleness). */
  readonly classAnnotations?: Readonly<Record<string, string>>
}

const driverFlags = (base: string, api: FakeApiServer, providerDir: string, extra: ReadonlyArray<string>) => [
  `--endpoint=unix://${path.join(base, "csi.sock")}`,
  `--kubelet-root-dir=${path.join(base, "kubelet")}`,
  "--nodeid=node-stress",
  `--kubeconfig=${api.kubeconfigPath}`,
  `--provider-volume=${providerDir}`,
  "--additional-provider-volume-paths=",
  "--metrics-addr=127.0.0.1:0",
  "--enable-secret-rotation=true",
  "--rotation-poll-interval=0s",
  "--provider-timeout=5s",
  ...extra
]

export const startStressNode = async (options: StressNodeOptions = {}): Promise<StressNode> => {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "stress-")))
  const kubelet = path.join(base, "kubelet")
  const providerDir = path.join(base, "providers")
  fs.mkdirSync(kubelet)
  fs.mkdirSync(providerDir)
  const api = await FakeApiServer.start()
  api.seed(
    options.classAnnotations === undefined
      ? stressSpc
      : { ...stressSpc, metadata: { ...stressSpc.metadata, annotations: { ...options.classAnnotations } } }
  )
  const scope = Effect.runSync(Scope.make())
  const provider = await Effect.runPromise(
    makeTestProvider({ dir: providerDir, name: "test" }).pipe(Scope.provide(scope))
  )
  const flags = driverFlags(base, api, providerDir, options.driverArgs ?? [])
  let driver: RunningProcess | undefined
  let csi: ReturnType<typeof connectCsi> | undefined
  const start = async () => {
    driver = startProgram("main.js", flags, options.driverEnv ?? {})
    csi = connectCsi(path.join(base, "csi.sock"))
    await eventually(() => csi!.identity.probe({}), 30_000, 50)
  }
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    await driver?.stop(signal)
    csi?.close()
  }
  await start()
  return {
    base,
    kubelet,
    api,
    provider,
    driver: () => driver!,
    csi: () => csi!,
    stopDriver: stop,
    startDriver: start,
    close: async () => {
      await stop("SIGKILL")
      unmountAllUnder(base)
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await api.stop()
      fs.rmSync(base, { recursive: true, force: true })
    }
  }
}

/** `<kubelet>/pods/<uid>/volumes/kubernetes.io~csi/secrets/mount`, as kubelet lays it out (parent created). */
export const targetFor = (kubelet: string, uid: string) => {
  const target = path.join(kubelet, "pods", uid, "volumes", "kubernetes.io~csi", "secrets", "mount")
  fs.mkdirSync(path.dirname(target), { recursive: true })
  return target
}

/** kubelet's NodePublishVolume for pod `pod-<uid>`, with overrides. */
export const kubeletPublish = (target: string, uid: string, overrides: Partial<NodePublishVolumeRequest> = {}) =>
  publishRequest({
    targetPath: target,
    volumeContext: {
      ...publishRequest().volumeContext,
      secretProviderClass: SPC_NAME,
      "csi.storage.k8s.io/pod.name": `pod-${uid}`,
      "csi.storage.k8s.io/pod.uid": uid
    },
    ...overrides
  })

/** Mount points at or below `root`, deepest first, with their filesystem type. */
export const mountsUnder = (root: string): ReadonlyArray<{ readonly mountPoint: string; readonly fsType: string }> =>
  parseMountInfo(fs.readFileSync("/proc/self/mountinfo", "utf8"))
    .filter((e) => e.mountPoint === root || e.mountPoint.startsWith(`${root}/`))
    .map((e) => ({ mountPoint: e.mountPoint, fsType: e.fsType }))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length)

/** Test cleanup: unmounts (lazily, so a busy mount cannot block it) everything at or below `root`. */
export const unmountAllUnder = (root: string): void => {
  for (let round = 0; round < 20; round++) {
    const mounts = mountsUnder(root)
    if (mounts.length === 0) return
    for (const m of mounts) {
      try {
        execFileSync("umount", ["-l", m.mountPoint], { stdio: "ignore" })
      } catch {
        // Already gone (a parent was unmounted first); the next round re-reads the table.
      }
    }
  }
}

export interface TreeEntry {
  readonly kind: "file" | "dir" | "link" | "other"
  readonly mode: number
  readonly ino: number
  readonly link?: string
  /** sha256 of the bytes, so 50 MiB files list cheaply. */
  readonly sha?: string
}

/** Every entry under `root` (links not followed), keyed by relative path. */
export const tree = (root: string): Record<string, TreeEntry> => {
  const out: Record<string, TreeEntry> = {}
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const abs = path.join(dir, name)
      const st = fs.lstatSync(abs)
      const rel = path.relative(root, abs)
      const basic = { mode: st.mode & 0o7777, ino: st.ino }
      if (st.isSymbolicLink()) out[rel] = { kind: "link", ...basic, link: fs.readlinkSync(abs) }
      else if (st.isFile())
        out[rel] = { kind: "file", ...basic, sha: createHash("sha256").update(fs.readFileSync(abs)).digest("hex") }
      else if (st.isDirectory()) {
        out[rel] = { kind: "dir", ...basic }
        walk(abs)
      } else out[rel] = { kind: "other", ...basic }
    }
  }
  walk(root)
  return out
}

/** Resolves `..data` once and reads every file below that one directory: path -> text. */
export const readThroughData = (target: string): Record<string, string> => {
  const dir = fs.realpathSync(path.join(target, "..data"))
  const out: Record<string, string> = {}
  const walk = (abs: string, rel: string) => {
    for (const name of fs.readdirSync(abs).sort()) {
      const child = path.join(abs, name)
      const childRel = rel === "" ? name : `${rel}/${name}`
      if (fs.lstatSync(child).isDirectory()) walk(child, childRel)
      else out[childRel] = fs.readFileSync(child, "utf8")
    }
  }
  walk(dir, "")
  return out
}

/** A payload whose every file says which generation it belongs to: `f<i>` = `gen-<n>:<i>:` padded to `size`. */
export const generation = (n: number, count: number, size = 64): ReadonlyArray<TestFile> =>
  Array.from({ length: count }, (_, i) => {
    const head = `gen-${n}:${i}:`
    return {
      path: i % 2 === 0 ? `f${i}` : `dir/f${i}`,
      contents: head.padEnd(Math.max(size, head.length), "."),
      mode: 0o640
    }
  })

/** The generation a file's text names. */
export const generationOf = (text: string): number => Number(/^gen-(\d+):/.exec(text)?.[1] ?? Number.NaN)

/** A memory line of /proc/<pid>/status in KiB: VmRSS (now) or VmHWM (peak RSS so far). */
export const statusKiB = (pid: number, field: "VmRSS" | "VmHWM"): number =>
  Number(
    new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ??
      Number.NaN
  )
