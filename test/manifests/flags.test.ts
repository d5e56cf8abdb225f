// Manifests and code cannot drift: every image in a DaemonSet is ours or a pinned sidecar, every flag passed to
// the driver is in src/config/Flags.ts with a value of its type, the reference provider's flags are the ones its
// main.ts declares, and the Dockerfile copies only files that exist.
import { readFileSync } from "node:fs"
import { beforeAll, describe, expect, it } from "vitest"
import { allFlags, type FlagSpec } from "../../src/config/Flags.js"
import { parseGoBool, parseGoDuration, parseGoInt } from "../../src/config/GoValues.js"
import {
  components,
  containerNamed,
  containersOf,
  type KubeObject,
  kustomize,
  kustomizeWithComponents,
  overlays,
  repoRoot
} from "./render.js"

const ourImage = /^ghcr\.io\/secrets-store-csi-ts\/driver(?::[\w.-]+|@sha256:[0-9a-f]{64})$/
const sidecars = [
  "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.16.0",
  "registry.k8s.io/sig-storage/livenessprobe:v2.18.0"
]

const flagsByName = new Map<string, FlagSpec>(allFlags.map((flag) => [flag.name, flag]))

/** `--name=value`, `-name=value` or a bare bool `--name`, the forms the manifests use. */
const parseArg = (arg: string) => {
  const match = /^--?([A-Za-z0-9_-]+)(?:=(.*))?$/s.exec(arg)
  return match === null ? undefined : { name: match[1]!, value: match[2] }
}

const valueFits = (flag: FlagSpec, value: string | undefined): boolean => {
  if (value === undefined) return flag.type === "bool"
  if (value.includes("$(")) return flag.type === "string" // expanded by kubelet from the container's env
  switch (flag.type) {
    case "bool":
      return parseGoBool(value) !== undefined
    case "duration":
      return parseGoDuration(value) !== undefined
    case "int":
    case "level":
      return parseGoInt(value) !== undefined
    case "string":
      return true
  }
}

/** The flag names main.ts declares with effect/cli's Flag constructors. */
const referenceProviderFlags = (): ReadonlySet<string> => {
  const source = readFileSync(`${repoRoot}src/reference-provider/main.ts`, "utf8")
  return new Set([...source.matchAll(/Flag\.[A-Z]\w*\("([^"]+)"\)/g)].map((m) => m[1]!))
}

const rendered: Array<readonly [string, ReadonlyArray<KubeObject>]> = []
beforeAll(async () => {
  rendered.push(["base", await kustomize("base")])
  for (const overlay of overlays) rendered.push([overlay, await kustomize(`overlays/${overlay}`)])
  rendered.push(["all components", await kustomizeWithComponents(components)])
})

const daemonSets = () =>
  rendered.flatMap(([target, objects]) =>
    objects.filter((o) => o.kind === "DaemonSet").map((o) => [target, o] as const)
  )

describe("flag parsing of the test itself", () => {
  it("recognises the forms the manifests use and rejects others", () => {
    expect(parseArg("--rotation-poll-interval=2m")).toEqual({ name: "rotation-poll-interval", value: "2m" })
    expect(parseArg("-v=5")).toEqual({ name: "v", value: "5" })
    expect(parseArg("--enable-pprof")).toEqual({ name: "enable-pprof", value: undefined })
    expect(parseArg("2m")).toBeUndefined()
    expect(valueFits(flagsByName.get("rotation-poll-interval")!, "soon")).toBe(false)
    expect(flagsByName.has("filtered-watch-secret")).toBe(false)
  })
})

describe("the rendered DaemonSets", () => {
  it("use only our image and the two pinned sidecars", () => {
    expect(daemonSets().length).toBeGreaterThanOrEqual(rendered.length)
    for (const [target, daemonSet] of daemonSets()) {
      for (const container of containersOf(daemonSet)) {
        const image = container.image ?? ""
        expect(ourImage.test(image) || sidecars.includes(image), `${target} ${container.name}: ${image}`).toBe(true)
      }
    }
  })

  it("pass the driver only flags of its flag table, each once and with a value of its type", () => {
    for (const [target, daemonSet] of daemonSets().filter(([, ds]) => ds.metadata.name === "csi-secrets-store")) {
      const driver = containerNamed(daemonSet, "secrets-store")
      expect(driver.command, "the image's entrypoint runs the driver").toBeUndefined()
      const names = (driver.args ?? []).map((arg) => {
        const parsed = parseArg(arg)
        const flag = parsed === undefined ? undefined : flagsByName.get(parsed.name)
        expect(flag, `${target}: ${arg} is not a driver flag`).toBeDefined()
        expect(valueFits(flag!, parsed!.value), `${target}: ${arg} has a value of the wrong type`).toBe(true)
        return parsed!.name
      })
      expect(new Set(names).size, `${target}: a flag passed twice`).toBe(names.length)
      expect(names).toEqual(expect.arrayContaining(["endpoint", "nodeid"]))
    }
  })

  it("run the reference provider with the flags its main.ts declares", () => {
    const declared = referenceProviderFlags()
    expect([...declared].sort()).toEqual(["name", "provider-dir", "store"])
    const providers = daemonSets().filter(([, ds]) => ds.metadata.name === "csi-secrets-store-reference-provider")
    expect(providers.length).toBeGreaterThan(0)
    for (const [target, daemonSet] of providers) {
      const provider = containerNamed(daemonSet, "provider")
      expect(provider.command).toEqual(["secrets-store-reference-provider"])
      const names = (provider.args ?? []).map((arg) => parseArg(arg)?.name)
      for (const name of names) expect(declared.has(name ?? ""), `${target}: ${String(name)}`).toBe(true)
      expect(provider.args).toContain("--provider-dir=/var/run/secrets-store-csi-providers")
    }
  })
})

// Its runtime stage and what it ships: test/manifests/image.test.ts.
describe("the Dockerfile", () => {
  const dockerfile = readFileSync(`${repoRoot}Dockerfile`, "utf8")

  it("copies only files that exist in the repository", () => {
    for (const line of dockerfile.split("\n").filter((l) => /^COPY (?!--from)/.test(l))) {
      const sources = line
        .replace(/^COPY /, "")
        .split(/\s+/)
        .slice(0, -1)
      for (const source of sources) expect(() => readFileSync(`${repoRoot}${source}`), source).not.toThrow(/ENOENT/)
    }
  })
})
