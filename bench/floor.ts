// The floor of a first publish on this machine, measured in the same run: an empty gRPC round trip to
// the driver and to the provider, one tmpfs mount done the way the driver does it (mount(2) through the addon of
// native/, src/mount/MountCalls.ts), and the same three small files written with plain fs calls. For information
// only: the same mount through mount(8) (what upstream execs), and one GET of the SecretProviderClass from the fake
// API server (the driver makes it on every first publish).
import { execFile } from "node:child_process"
import * as fs from "node:fs/promises"
import { createRequire } from "node:module"
import * as path from "node:path"
import { promisify } from "node:util"
import type { BenchCounts } from "./config.js"
import { smallFiles, type Driver, type Rig } from "./rig.js"
import { repoRoot } from "./procs.js"
import { sampleMs, summarize, type Summary } from "./stats.js"

const run = promisify(execFile)

export interface Floor {
  readonly driverNodeGetInfo: Summary
  readonly driverProbe: Summary
  readonly providerVersion: Summary
  /** mount(2) through the addon, as the driver mounts. */
  readonly tmpfsMount: Summary
  /** execFile mount(8), for comparison (upstream's way); not in the sum. */
  readonly tmpfsMountCommand: Summary
  readonly fsWrite: Summary
  readonly apiGet: Summary
  /** Sum of the medians of NodeGetInfo, Version, tmpfs mount and fs write. */
  readonly sumMedianMs: number
}

interface Addon {
  readonly mountTmpfs: (path: string) => void
  readonly unmount: (path: string) => void
}
// The repository's build of the addon (npm ci builds it); the floor needs it, as the driver does.
const addonPath = path.join(repoRoot, "build", "Release", "secrets_store_mount.node")
const addon = createRequire(import.meta.url)(addonPath) as Addon
const mountTmpfs = async (dir: string) => addon.mountTmpfs(dir)
const umount = async (dir: string) => addon.unmount(dir)
const mountTmpfsCommand = (dir: string) => run("mount", ["-t", "tmpfs", "tmpfs", dir])

/** mkdir + writeFile + chmod of each file, as a publish lays out its payload. */
export const writePlain = async (
  dir: string,
  files: ReadonlyArray<{ path: string; contents: string | Uint8Array; mode: number }>
) => {
  await fs.mkdir(dir, { recursive: true })
  for (const file of files) {
    const full = path.join(dir, file.path)
    if (path.dirname(file.path) !== ".") await fs.mkdir(path.dirname(full), { recursive: true })
    await fs.writeFile(full, file.contents)
    await fs.chmod(full, file.mode)
  }
}

/** A tmpfs scratch mount for plain writes (what the driver writes onto is a tmpfs too). */
export const withScratchTmpfs = async <A>(rig: Rig, name: string, use: (dir: string) => Promise<A>): Promise<A> => {
  const dir = path.join(rig.root, name)
  await fs.mkdir(dir, { recursive: true })
  await mountTmpfs(dir)
  try {
    return await use(dir)
  } finally {
    await umount(dir)
  }
}

export const measureFloor = async (rig: Rig, driver: Driver, counts: BenchCounts): Promise<Floor> => {
  const samples = counts.floorSamples
  const warmup = counts.warmup
  const driverNodeGetInfo = summarize(await sampleMs({ samples, warmup }, () => driver.csi.node.nodeGetInfo({})))
  const driverProbe = summarize(await sampleMs({ samples, warmup }, () => driver.csi.identity.probe({})))
  const provider = rig.providerClient()
  const providerVersion = await sampleMs({ samples, warmup }, () =>
    provider.client.version({ version: "v1alpha1" })
  ).finally(() => provider.close())

  const mountDir = (i: number) => path.join(rig.root, "floor-mount", String(i))
  const tmpfsMount = await sampleMs(
    {
      samples,
      warmup,
      before: (i) => fs.mkdir(mountDir(i), { recursive: true }).then(() => undefined),
      after: (i) => umount(mountDir(i)).then(() => fs.rmdir(mountDir(i)))
    },
    (i) => mountTmpfs(mountDir(i))
  )
  const tmpfsMountCommand = await sampleMs(
    {
      samples,
      warmup,
      before: (i) => fs.mkdir(mountDir(i), { recursive: true }).then(() => undefined),
      after: (i) => umount(mountDir(i)).then(() => fs.rmdir(mountDir(i)))
    },
    (i) => mountTmpfsCommand(mountDir(i))
  )

  const files = smallFiles(1)
  const fsWrite = await withScratchTmpfs(rig, "floor-fs", (scratch) =>
    sampleMs(
      {
        samples,
        warmup,
        after: (i) => fs.rm(path.join(scratch, String(i)), { recursive: true })
      },
      (i) => writePlain(path.join(scratch, String(i)), files)
    )
  )

  const spcs = "/apis/secrets-store.csi.x-k8s.io/v1/namespaces/default/secretproviderclasses"
  const spcUrl = `${rig.api.url}${spcs}/bench-small`
  const apiGet = await sampleMs({ samples, warmup }, async () => {
    const response = await fetch(spcUrl, { headers: { authorization: "Bearer fake-token" } })
    await response.json()
  })
  rig.forgetRequests()

  const parts = {
    driverNodeGetInfo,
    driverProbe: driverProbe,
    providerVersion: summarize(providerVersion),
    tmpfsMount: summarize(tmpfsMount),
    tmpfsMountCommand: summarize(tmpfsMountCommand),
    fsWrite: summarize(fsWrite),
    apiGet: summarize(apiGet)
  }
  const sumMedianMs =
    parts.driverNodeGetInfo.median + parts.providerVersion.median + parts.tmpfsMount.median + parts.fsWrite.median
  return { ...parts, sumMedianMs }
}
