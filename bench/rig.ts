// The benchmark's node: a temp directory, the fake API server holding the SecretProviderClasses, the
// reference provider (as shipped) with its store file, and drivers started on demand, as shipped or with the
// node flags a phase needs. Every target it hands out lives under its root, so cleanup is one sweep.
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { createChannel, createClient } from "nice-grpc"
import { connectCsi, publishRequest } from "../test/support/CsiClient.js"
import { FakeApiServer } from "../test/support/FakeApiServer.js"
import { resourceByKind } from "../test/support/FakeApiStore.js"
import { CSIDriverProviderDefinition } from "../src/gen/provider/v1alpha1/service.js"
import { spawnProgram, unmountAllUnder, type Child } from "./procs.js"

export const SMALL_SPC = "bench-small"

const objectsParameter = (names: ReadonlyArray<string>) =>
  names.map((n) => `- objectName: ${n}\n${n === "api-key" ? "  fileName: config/api-key\n" : ""}`).join("")

const spc = (name: string, objects: ReadonlyArray<string>) => ({
  apiVersion: "secrets-store.csi.x-k8s.io/v1",
  kind: "SecretProviderClass",
  metadata: { name, namespace: "default" },
  spec: { provider: "reference", parameters: { objects: objectsParameter(objects) } }
})

/** The three small files of a publish, as the plain-fs floor writes them too. */
export const smallFiles = (version: number) => [
  { name: "db-password", path: "db-password", contents: `hunter2-${version}`, mode: 0o600 },
  { name: "api-key", path: "config/api-key", contents: "key-123", mode: 0o640 },
  { name: "username", path: "username", contents: "app-user", mode: 0o644 }
]

export interface StoreExtra {
  readonly name: string
  readonly contents: string
}

const storeText = (version: number, extra: ReadonlyArray<StoreExtra>) =>
  JSON.stringify(
    Object.fromEntries([
      ...smallFiles(version).map((f) => [
        f.name,
        { contents: f.contents, version: String(version), mode: `0${f.mode.toString(8)}` }
      ]),
      ...extra.map((e) => [e.name, { contents: e.contents, version: "1" }])
    ])
  )

export type Csi = ReturnType<typeof connectCsi>

export interface Target {
  readonly target: string
  readonly pod: string
  readonly uid: string
}

const podObject = (name: string, spcName: string) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default" },
  spec: {
    nodeName: "bench-node",
    volumes: [
      {
        name: "secrets",
        csi: { driver: "secrets-store.csi.k8s.io", volumeAttributes: { secretProviderClass: spcName } }
      }
    ]
  },
  status: { phase: "Running" }
})

export interface DriverOptions {
  readonly rotationPollInterval: string
  /** NODE_OPTIONS as an operator would set it (on top of the program's own tuning, unless untuned). */
  readonly nodeOptions?: string | undefined
  /** Node flags on the command line; they bypass the program's own tuning. */
  readonly nodeFlags?: ReadonlyArray<string>
  /** Start without the program's own tuning (the flag matrix's candidates bring their own flags). */
  readonly untuned?: boolean
  readonly extraArgs?: ReadonlyArray<string>
}

export interface Driver {
  readonly process: Child
  readonly csi: Csi
  readonly stop: () => Promise<void>
}

export class Rig {
  private targets = 0
  readonly root: string
  readonly api: FakeApiServer
  readonly provider: Child
  readonly providerSocket: string
  private constructor(root: string, api: FakeApiServer, provider: Child, providerSocket: string) {
    this.root = root
    this.api = api
    this.provider = provider
    this.providerSocket = providerSocket
  }

  static async start(): Promise<Rig> {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "sscsi-bench-"))
    await fs.mkdir(path.join(root, "providers"))
    await fs.writeFile(path.join(root, "store.json"), storeText(1, []))
    const api = await FakeApiServer.start()
    api.seed(
      spc(
        SMALL_SPC,
        smallFiles(1).map((f) => f.name)
      )
    )
    // The payload phase stores 1 and 4 MiB objects: the provider's store parser needs more heap for those than its
    // own tuning gives it (it runs out of a 128 MiB heap), so the operator's override raises it here.
    const provider = spawnProgram(
      "reference-provider/main.js",
      [
        `--provider-dir=${path.join(root, "providers")}`,
        "--name=reference",
        `--store=${path.join(root, "store.json")}`
      ],
      { nodeOptions: "--max-old-space-size=1024" }
    )
    const rig = new Rig(root, api, provider, path.join(root, "providers", "reference.sock"))
    await waitFor(
      () => fs.access(rig.providerSocket),
      15_000,
      () => provider.tail()
    )
    return rig
  }

  /** Adds an SPC naming one store object (for the payload phase). */
  seedClass(name: string, objects: ReadonlyArray<string>): void {
    this.api.seed(spc(name, objects))
  }

  /** Rewrites the provider's store (changed contents and versions rotate the next refresh). */
  writeStore(version: number, extra: ReadonlyArray<StoreExtra> = []): Promise<void> {
    return fs.writeFile(path.join(this.root, "store.json"), storeText(version, extra))
  }

  /**
   * A running Pod in the fake API server (secret sync reads it after each publish) and its fresh kubelet-style
   * target path (the parent exists, the target does not).
   */
  async newTarget(spcName = SMALL_SPC): Promise<Target> {
    const pod = `pod-${++this.targets}`
    const uid = String(this.api.seed(podObject(pod, spcName)).metadata["uid"])
    const dir = path.join(this.root, "kubelet", "pods", uid, "volumes", "kubernetes.io~csi", "secrets")
    await fs.mkdir(dir, { recursive: true })
    return { target: path.join(dir, "mount"), pod, uid }
  }

  /** The pod is gone: delete it, and with it (the fake server's garbage collection) its pod status. */
  release(t: Target): void {
    this.api.store.delete(resourceByKind("Pod")!, "default", t.pod)
  }

  async startDriver(options: DriverOptions): Promise<Driver> {
    const socket = path.join(this.root, `csi-${Date.now()}-${Math.random().toString(36).slice(2)}.sock`)
    // BENCH_DRIVER_NODE_OPTIONS: an operator's NODE_OPTIONS for every driver run as shipped (not the matrix's), to try
    // a flag on top of the program's own tuning.
    const operator = process.env["BENCH_DRIVER_NODE_OPTIONS"] ?? ""
    const asShipped = options.untuned !== true && (options.nodeFlags ?? []).length === 0
    const child = spawnProgram(
      "main.js",
      [
        `--endpoint=unix://${socket}`,
        `--kubelet-root-dir=${path.join(this.root, "kubelet")}`,
        "--nodeid=bench-node",
        `--kubeconfig=${this.api.kubeconfigPath}`,
        `--provider-volume=${path.join(this.root, "providers")}`,
        "--additional-provider-volume-paths=",
        "--enable-secret-rotation=true",
        `--rotation-poll-interval=${options.rotationPollInterval}`,
        "--metrics-addr=127.0.0.1:0",
        "-v=0",
        ...(options.extraArgs ?? [])
      ],
      {
        nodeOptions: asShipped
          ? [operator, options.nodeOptions].filter(Boolean).join(" ") || undefined
          : options.nodeOptions,
        nodeFlags: options.nodeFlags ?? [],
        untuned: options.untuned ?? false
      }
    )
    const csi = connectCsi(socket)
    try {
      await waitFor(
        () => csi.identity.probe({}),
        20_000,
        () => child.tail()
      )
    } catch (error) {
      csi.close()
      await child.stop()
      throw error
    }
    return {
      process: child,
      csi,
      stop: async () => {
        csi.close()
        await child.stop()
      }
    }
  }

  /** An empty provider client, as the driver holds one (nice-grpc wants unix:// plus an absolute path). */
  providerClient(maxReceiveBytes?: number) {
    const options = maxReceiveBytes === undefined ? {} : { "grpc.max_receive_message_length": maxReceiveBytes }
    const channel = createChannel(`unix://${path.resolve(this.providerSocket)}`, undefined, options)
    return { client: createClient(CSIDriverProviderDefinition, channel), close: () => channel.close() }
  }

  /** Drops the fake API server's request log (it keeps every body; 10,000 cycles would grow the harness). */
  forgetRequests(): void {
    this.api.requests.length = 0
  }

  async stop(): Promise<{ leftMounts: number }> {
    await this.provider.stop()
    await this.api.stop()
    const leftMounts = await unmountAllUnder(this.root)
    if (leftMounts === 0) await fs.rm(this.root, { recursive: true, force: true })
    return { leftMounts }
  }
}

export const publish = (csi: Csi, t: Target, spcName = SMALL_SPC) =>
  csi.node.nodePublishVolume(
    publishRequest({
      targetPath: t.target,
      volumeContext: {
        ...publishRequest().volumeContext,
        secretProviderClass: spcName,
        "csi.storage.k8s.io/pod.name": t.pod,
        "csi.storage.k8s.io/pod.uid": t.uid,
        "csi.storage.k8s.io/serviceAccount.tokens": JSON.stringify({
          "": { token: "jwt-aaa.bbb.ccc", expirationTimestamp: "2030-01-01T00:00:00Z" }
        })
      }
    })
  )

export const unpublish = (csi: Csi, t: Target) =>
  csi.node.nodeUnpublishVolume({ volumeId: "csi-0123456789abcdef", targetPath: t.target })

export const waitFor = async (
  check: () => Promise<unknown>,
  timeoutMs: number,
  context: () => string
): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await check()
      return
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms: ${String(error)}\n${context()}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}
