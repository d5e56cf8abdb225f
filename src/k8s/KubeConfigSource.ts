// Where the Kubernetes client configuration comes from, decided without contacting the API server and without
// loading @kubernetes/client-node: the --kubeconfig flag, else KUBECONFIG, else in-cluster, else $HOME/.kube/config
// (controller-runtime's order, which upstream uses), else none: the driver still runs, API calls then fail typed.
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

export const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

export type KubeConfigSource =
  | { readonly _tag: "Files"; readonly origin: "flag" | "KUBECONFIG" | "home"; readonly paths: ReadonlyArray<string> }
  | { readonly _tag: "InCluster"; readonly host: string; readonly port: string; readonly serviceAccountDir: string }
  | { readonly _tag: "None" }

export interface SourceInputs {
  readonly kubeconfigFlag: string | undefined
  readonly env: {
    readonly KUBECONFIG?: string | undefined
    readonly KUBERNETES_SERVICE_HOST?: string | undefined
    readonly KUBERNETES_SERVICE_PORT?: string | undefined
    readonly HOME?: string | undefined
  }
  readonly fileExists: (path: string) => boolean
}

/** Pure: the same precedence as client-go's loading rules as controller-runtime applies them. */
export const resolveKubeConfigSource = ({ kubeconfigFlag, env, fileExists }: SourceInputs): KubeConfigSource => {
  if (kubeconfigFlag !== undefined && kubeconfigFlag !== "") {
    return { _tag: "Files", origin: "flag", paths: [kubeconfigFlag] }
  }
  // Like client-go, files listed in KUBECONFIG that do not exist are skipped.
  const fromEnv = (env.KUBECONFIG ?? "").split(nodePath.delimiter).filter((p) => p !== "" && fileExists(p))
  if (fromEnv.length > 0) return { _tag: "Files", origin: "KUBECONFIG", paths: fromEnv }
  const host = env.KUBERNETES_SERVICE_HOST ?? ""
  const port = env.KUBERNETES_SERVICE_PORT ?? ""
  if (host !== "" && port !== "" && fileExists(nodePath.join(serviceAccountDir, "token"))) {
    return { _tag: "InCluster", host, port, serviceAccountDir }
  }
  if (env.HOME !== undefined && env.HOME !== "") {
    const home = nodePath.join(env.HOME, ".kube", "config")
    if (fileExists(home)) return { _tag: "Files", origin: "home", paths: [home] }
  }
  return { _tag: "None" }
}

export const describeSource = (source: KubeConfigSource): string => {
  switch (source._tag) {
    case "Files":
      return `kubeconfig ${source.paths.join(nodePath.delimiter)} (from ${source.origin})`
    case "InCluster":
      return `in-cluster config (https://${source.host}:${source.port})`
    case "None":
      return "no kubeconfig"
  }
}

const optionalEnv = (name: string) =>
  Config.String(name).pipe(
    Config.option,
    Effect.map(Option.getOrUndefined),
    Effect.orElseSucceed(() => undefined)
  )

/** Reads the environment through Effect's ConfigProvider, so tests can supply their own environment. */
export const kubeConfigSource = (kubeconfigFlag: string | undefined) =>
  Effect.gen(function* () {
    const env = {
      KUBECONFIG: yield* optionalEnv("KUBECONFIG"),
      KUBERNETES_SERVICE_HOST: yield* optionalEnv("KUBERNETES_SERVICE_HOST"),
      KUBERNETES_SERVICE_PORT: yield* optionalEnv("KUBERNETES_SERVICE_PORT"),
      HOME: yield* optionalEnv("HOME")
    }
    return resolveKubeConfigSource({ kubeconfigFlag, env, fileExists: (p) => fs.existsSync(p) })
  })
