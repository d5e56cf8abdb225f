// Where a first publish and a no-op republish spend the driver's CPU: a V8 CPU profile taken through Node's
// inspector (opened with NODE_OPTIONS=--inspect on the driver as shipped) around N calls, its bundle frames mapped
// back to their src/ and node_modules/ files through the bundle's source map, folded into self time per function and
// per package.
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import { SourceMap } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { freePort, openInspector } from "./inspector.js"
import { measureFirstPublish } from "./publish.js"
import { publish, unpublish, type Driver, type Rig } from "./rig.js"

interface ProfileNode {
  readonly id: number
  readonly children?: ReadonlyArray<number>
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
    readonly columnNumber?: number
  }
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export interface SelfTime {
  readonly name: string
  readonly ms: number
  readonly percent: number
}

export interface ProfileSummary {
  /** What was profiled, e.g. "sequential first publishes". */
  readonly what: string
  readonly publishes: number
  readonly totalMs: number
  readonly topFunctions: ReadonlyArray<SelfTime>
  readonly byPackage: ReadonlyArray<SelfTime>
  /**
   * Time with a frame of this dist/ file on the stack (synchronous stacks only: an Effect fiber resumed by I/O shows
   * the runtime, not its caller).
   */
  readonly inclusiveByDriverFile: ReadonlyArray<SelfTime>
  readonly file: string
}

/** node_modules/<pkg>, our dist/<dir>, node:internal, or the V8 pseudo-frames ((garbage collector), (idle), ...). */
const packageOf = (url: string, functionName: string): string => {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)"
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (modules !== null) return modules[1]!
  const vendor = /\/(vendor\/[^/]+)$/.exec(url)
  if (vendor !== null) return vendor[1]!
  const dist = /\/dist\/(.+?)\/[^/]+$/.exec(url) ?? /\/dist\/([^/]+)$/.exec(url)
  if (dist !== null) return `dist/${dist[1]!}`
  const src = /\/src\/(.+?)\/[^/]+$/.exec(url) ?? /\/src\/([^/]+)$/.exec(url)
  if (src !== null) return `src/${src[1]!}`
  if (url.startsWith("node:")) return url.split("/")[0]!.replace(/^node:internal.*/, "node:internal")
  return url
}

const shortUrl = (url: string) => url.replace(/^file:\/\/.*?\/(node_modules|dist|src)\//, "$1/")

const top = (totals: Map<string, number>, all: number, n: number): Array<SelfTime> =>
  [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000, percent: (us / all) * 100 }))

/** Frames of a bundle (one file holds every module) moved to the file and line its source map names. */
const mapBundleFrames = (profile: CpuProfile): CpuProfile => {
  const maps = new Map<string, SourceMap | undefined>()
  const mapOf = (url: string) => {
    if (!maps.has(url)) {
      const file = `${fileURLToPath(url)}.map`
      maps.set(url, fsSync.existsSync(file) ? new SourceMap(JSON.parse(fsSync.readFileSync(file, "utf8"))) : undefined)
    }
    return maps.get(url)
  }
  const nodes = profile.nodes.map((node) => {
    const { url, lineNumber, columnNumber } = node.callFrame
    if (!url.startsWith("file:") || !url.endsWith(".bundle.js")) return node
    const entry = mapOf(url)?.findEntry(lineNumber, columnNumber ?? 0)
    if (entry === undefined || !("originalSource" in entry)) return node
    const original = new URL(entry.originalSource, url).href
    return { ...node, callFrame: { ...node.callFrame, url: original, lineNumber: entry.originalLine } }
  })
  return { ...profile, nodes }
}

export const summarizeProfile = (raw: CpuProfile, n = 15) => {
  const profile = mapBundleFrames(raw)
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const perFunction = new Map<string, number>()
  const perPackage = new Map<string, number>()
  const perDistFile = new Map<string, number>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const distFilesOnStack = (id: number): Set<string> => {
    const files = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const match = /\/(dist|src)\/(.+\.[jt]s)$/.exec(byId.get(at)?.callFrame.url ?? "")
      if (match !== null && !/node_modules/.test(byId.get(at)!.callFrame.url)) files.add(`${match[1]!}/${match[2]!}`)
    }
    return files
  }
  let all = 0
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)
    const us = profile.timeDeltas[i] ?? 0
    if (node === undefined) return
    const { functionName, url, lineNumber } = node.callFrame
    // Idle is the event loop waiting, not work.
    if (functionName === "(idle)") return
    all += us
    const name = `${functionName || "(anonymous)"} ${url === "" ? "" : `${shortUrl(url)}:${lineNumber + 1}`}`.trim()
    perFunction.set(name, (perFunction.get(name) ?? 0) + us)
    const pkg = packageOf(url, functionName)
    perPackage.set(pkg, (perPackage.get(pkg) ?? 0) + us)
    for (const file of distFilesOnStack(id)) perDistFile.set(file, (perDistFile.get(file) ?? 0) + us)
  })
  return {
    totalMs: all / 1000,
    topFunctions: top(perFunction, all, n),
    byPackage: top(perPackage, all, n),
    inclusiveByDriverFile: top(perDistFile, all, n)
  }
}

/** Starts a driver with the inspector on, runs `warm` unprofiled, then profiles `measured`; `after` is unprofiled. */
const profileDriver = async (
  rig: Rig,
  what: string,
  publishes: number,
  file: string,
  body: (driver: Driver) => Promise<{ measured: () => Promise<void>; after: () => Promise<void> }>,
  extraArgs: ReadonlyArray<string> = []
): Promise<ProfileSummary> => {
  const port = await freePort()
  const driver = await rig.startDriver({
    rotationPollInterval: "2m",
    nodeOptions: `--inspect=127.0.0.1:${port}`,
    extraArgs
  })
  const session = await openInspector(port)
  try {
    const { measured, after } = await body(driver)
    await session.call("Profiler.enable")
    await session.call("Profiler.setSamplingInterval", { interval: 200 })
    await session.call("Profiler.start")
    await measured()
    const { profile } = await session.call<{ profile: CpuProfile }>("Profiler.stop")
    await after()
    // BENCH_PROFILE_DIR keeps the .cpuprofile files after the run (the rig's root is removed), e.g. for DevTools.
    const dir = process.env["BENCH_PROFILE_DIR"] || rig.root
    await fs.mkdir(dir, { recursive: true })
    const out = path.join(dir, file)
    await fs.writeFile(out, JSON.stringify(profile))
    return { what, publishes, file: out, ...summarizeProfile(profile) }
  } finally {
    session.close()
    await driver.stop()
  }
}

/**
 * N first publishes (3 small files, sequential, fresh targets) against the driver as shipped,
 * profiled through Node's inspector after a warm-up, so start-up and module loading stay out;
 * the unpublishes come after the profile stops.
 */
export const profileFirstPublishes = (rig: Rig, publishes: number, warmup: number): Promise<ProfileSummary> =>
  profileDriver(rig, "sequential first publishes", publishes, "first-publish.cpuprofile", async (driver) => {
    await measureFirstPublish(rig, driver, warmup, 0)
    const targets = await Promise.all(Array.from({ length: publishes }, () => rig.newTarget()))
    return {
      measured: async () => {
        for (const t of targets) await publish(driver.csi, t)
      },
      after: async () => {
        for (const t of targets) {
          await unpublish(driver.csi, t)
          rig.release(t)
        }
      }
    }
  })

/** N first publishes of one large file (SecretProviderClass `spcName`), profiled after a warm-up. */
export const profileLargePublishes = (
  rig: Rig,
  label: string,
  spcName: string,
  publishes: number,
  extraArgs: ReadonlyArray<string>
): Promise<ProfileSummary> =>
  profileDriver(
    rig,
    `first publishes of one ${label} file`,
    publishes,
    `first-publish-${label.replace(/\W/g, "")}.cpuprofile`,
    async (driver) => {
      await measureFirstPublish(rig, driver, 3, 0, spcName)
      const targets = await Promise.all(Array.from({ length: publishes }, () => rig.newTarget(spcName)))
      return {
        measured: async () => {
          for (const t of targets) await publish(driver.csi, t, spcName)
        },
        after: async () => {
          for (const t of targets) {
            await unpublish(driver.csi, t)
            rig.release(t)
          }
        }
      }
    },
    extraArgs
  )

/** N no-op republishes of one mounted target within the poll interval, profiled after a warm-up. */
export const profileNoopRepublishes = (rig: Rig, publishes: number, warmup: number): Promise<ProfileSummary> =>
  profileDriver(rig, "no-op republishes of one target", publishes, "noop-republish.cpuprofile", async (driver) => {
    const t = await rig.newTarget()
    await publish(driver.csi, t)
    for (let i = 0; i < warmup * 5; i++) await publish(driver.csi, t)
    return {
      measured: async () => {
        for (let i = 0; i < publishes; i++) await publish(driver.csi, t)
      },
      after: async () => {
        await unpublish(driver.csi, t)
        rig.release(t)
      }
    }
  })
