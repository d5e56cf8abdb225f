// Renders kustomize directories with the real `kubectl kustomize` and reads YAML files, as plain objects. The
// tests that use it check what an operator would apply, not our idea of it.
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import * as Yaml from "effect/encoding/Yaml"

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url))

export const overlays = ["production", "dev", "kubelet-root"] as const
export type Overlay = (typeof overlays)[number]

export interface KubeObject {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace?: string }
  readonly [key: string]: unknown
}

const isKubeObject = (u: unknown): u is KubeObject =>
  typeof u === "object" && u !== null && "apiVersion" in u && "kind" in u && "metadata" in u

/** A YAML stream: documents split on `---` lines (Yaml.parse reads one document), comments and empties dropped. */
export const parseYamlStream = (text: string): ReadonlyArray<KubeObject> =>
  text.split(/^---[ \t]*$/m).flatMap((doc) => {
    const parsed = Yaml.parse(doc)
    if (parsed === null || parsed === undefined) return []
    if (!isKubeObject(parsed)) throw new Error(`not a Kubernetes object: ${doc.slice(0, 200)}`)
    return [parsed]
  })

export const readYamlFile = (relativePath: string): ReadonlyArray<KubeObject> =>
  parseYamlStream(readFileSync(`${repoRoot}${relativePath}`, "utf8"))

const execFileAsync = promisify(execFile)

const build = async (dir: string): Promise<ReadonlyArray<KubeObject>> => {
  const { stdout } = await execFileAsync("kubectl", ["kustomize", dir], { maxBuffer: 16 * 1024 * 1024 })
  return parseYamlStream(stdout)
}

/** `kubectl kustomize manifests/<dir>`; a failed build (e.g. a JSON patch `test` op) rejects with kubectl's stderr. */
export const kustomize = (dir: string): Promise<ReadonlyArray<KubeObject>> => build(`${repoRoot}manifests/${dir}`)

export const components = [
  "secret-sync",
  "rotation",
  "token-requests",
  "reference-provider",
  "sync-controller",
  "sync-controller-policies",
  "restart-on-rotation"
] as const

/** The base with the given components, from a throwaway kustomization, as an operator's own overlay would be. */
export const kustomizeWithComponents = async (names: ReadonlyArray<string>): Promise<ReadonlyArray<KubeObject>> => {
  const dir = mkdtempSync(join(tmpdir(), "kustomize-"))
  try {
    writeFileSync(
      join(dir, "kustomization.yaml"),
      JSON.stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        // kustomize refuses absolute roots; relative paths may leave the directory.
        resources: [relative(dir, `${repoRoot}manifests/base`)],
        components: names.map((name) => relative(dir, `${repoRoot}manifests/components/${name}`))
      })
    )
    return await build(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export const findObject = (objects: ReadonlyArray<KubeObject>, kind: string, name: string): KubeObject => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name)
  if (found === undefined) throw new Error(`${kind}/${name} not rendered`)
  return found
}

export interface Container {
  readonly name: string
  readonly image?: string
  readonly command?: ReadonlyArray<string>
  readonly args?: ReadonlyArray<string>
  readonly env?: ReadonlyArray<{ readonly name: string; readonly value?: string }>
  readonly volumeMounts?: ReadonlyArray<{
    readonly name: string
    readonly mountPath: string
    readonly mountPropagation?: string
  }>
}

/** The containers of a workload's pod template (DaemonSet, Deployment) or of a Pod. */
export const containersOf = (object: KubeObject): ReadonlyArray<Container> => {
  const spec =
    object.kind === "Pod"
      ? object["spec"]
      : (object["spec"] as { template?: { spec?: unknown } } | undefined)?.template?.spec
  return (spec as { containers?: ReadonlyArray<Container> } | undefined)?.containers ?? []
}

export const containerNamed = (object: KubeObject, name: string): Container => {
  const found = containersOf(object).find((c) => c.name === name)
  if (found === undefined) throw new Error(`${object.kind}/${object.metadata.name} has no container ${name}`)
  return found
}
