// The kubeconfig, loaded through client-node's KubeConfig so that every auth plugin (token files, exec credential
// plugins, OIDC, client certificates, proxies) behaves exactly as client-node's. KubeConfig comes from a tree-shaken
// bundle loaded on first use (~5 MiB RSS instead of the package's ~60), so a driver without a cluster never pays.
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js"
import { describeSource, type KubeConfigSource } from "./KubeConfigSource.js"

export type { KubeConfig } from "@kubernetes/client-node/dist/config.js"

export interface KubeClientConfig {
  readonly kc: KubeConfig
  /** The current cluster's server URL without trailing slashes. */
  readonly server: string
  /** A proxied cluster keeps client-node's proxy agent (http, https or socks); others get the transport's own. */
  readonly proxied: boolean
}

/**
 * vendor/kubernetes-client.js, built by scripts/bundle-kubernetes-client.mjs: KubeConfig only, with undici and the
 * generated API stubbed out. The path is two levels up from both src/k8s/ and dist/k8s/.
 */
const loadBundle = (): Promise<{ readonly KubeConfig: typeof KubeConfig }> =>
  import(new URL("../../vendor/kubernetes-client.js", import.meta.url).href)

export const loadKubeClientConfig = async (source: KubeConfigSource): Promise<KubeClientConfig> => {
  if (source._tag === "None") {
    throw new Error("no kubeconfig found (no --kubeconfig flag, no KUBECONFIG, not running in a cluster)")
  }
  const { KubeConfig } = await loadBundle()
  const kc = new KubeConfig()
  if (source._tag === "InCluster") loadInCluster(kc, source)
  else loadFiles(kc, source.paths, () => new KubeConfig())
  const cluster = kc.getCurrentCluster()
  if (cluster === null) throw new Error(`${describeSource(source)} has no current cluster`)
  return {
    kc,
    server: cluster.server.replace(/\/+$/, ""),
    proxied: cluster.proxyUrl !== undefined && cluster.proxyUrl !== ""
  }
}

// A YAML error quotes the offending lines, which may hold a token or a key: only the errno or "not valid" is kept.
const loadFile = (kc: KubeConfig, path: string) => {
  try {
    kc.loadFromFile(path)
  } catch (cause) {
    const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
    throw new Error(code === undefined ? `kubeconfig ${path} is not valid` : `cannot read kubeconfig ${path}: ${code}`)
  }
}

const loadFiles = (kc: KubeConfig, paths: ReadonlyArray<string>, fresh: () => KubeConfig) => {
  const [first, ...rest] = paths
  loadFile(kc, first!)
  // client-go: the first file that sets current-context wins; later files only add entries.
  for (const path of rest) {
    const next = fresh()
    loadFile(next, path)
    kc.mergeConfig(next, true)
  }
}

// Same shape as client-node's loadFromCluster, but from the environment this layer was given. The token file is
// re-read by client-node's FileAuth at most every 60 s, so a rotated projected token is picked up (as client-go).
const loadInCluster = (kc: KubeConfig, source: Extract<KubeConfigSource, { _tag: "InCluster" }>) => {
  const scheme = ["80", "8080", "8001"].includes(source.port) ? "http" : "https"
  const host = source.host.includes(":") ? `[${source.host}]` : source.host
  kc.loadFromClusterAndUser(
    {
      name: "inCluster",
      caFile: `${source.serviceAccountDir}/ca.crt`,
      server: `${scheme}://${host}:${source.port}`,
      skipTLSVerify: false
    },
    {
      name: "inClusterUser",
      authProvider: { name: "tokenFile", config: { tokenFile: `${source.serviceAccountDir}/token` } }
    }
  )
}
