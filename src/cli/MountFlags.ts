// The flags `mount` and `watch` share, and their resolution into what the local driver needs: the SPC read
// from its file with the driver's Schema, and the request kubelet would send for a pod that mounts it.
import * as nodePath from "node:path"
import * as Clock from "effect/Clock"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { PublishRequest } from "../domain/PublishRequest.js"
import type { SecretProviderClass } from "../domain/SecretProviderClass.js"
import { readClassFile } from "../standalone/ClassFiles.js"
import { usageError } from "./ExitCode.js"
import {
  generatePodUid,
  kubeletPublishRequest,
  kubeletRootOf,
  type PodIdentity,
  volumePathShape
} from "./KubeletRequest.js"

export const mountFlags = {
  classFile: Flag.String("class").pipe(Flag.withDescription("the SecretProviderClass file (YAML or JSON)")),
  target: Flag.String("target").pipe(Flag.withDescription(`kubelet's target path to mount at: ${volumePathShape}`)),
  providerDir: Flag.String("provider-dir").pipe(
    Flag.optional,
    Flag.withDescription("where <provider>.sock is (default: the driver's /etc/kubernetes/... then /var/run/... dirs)")
  ),
  pod: Flag.String("pod").pipe(Flag.withDefault("local-pod"), Flag.withDescription("the pod name the provider sees")),
  namespace: Flag.String("namespace").pipe(
    Flag.optional,
    Flag.withDescription("the pod's namespace (default: the SecretProviderClass's; the class must live there)")
  ),
  serviceAccount: Flag.String("service-account").pipe(
    Flag.withDefault("default"),
    Flag.withDescription("the pod's service account")
  ),
  token: Flag.String("token").pipe(
    Flag.atLeast(0),
    Flag.withDescription(
      "AUDIENCE=JWT, repeatable: a service-account token as kubelet passes it (=JWT for the default audience)"
    )
  ),
  secret: Flag.String("secret").pipe(
    Flag.atLeast(0),
    Flag.withDescription("KEY=VALUE, repeatable: the nodePublishSecretRef Secret's data")
  )
}

export interface MountFlags {
  readonly classFile: string
  readonly target: string
  readonly providerDir: Option.Option<string>
  readonly pod: string
  readonly namespace: Option.Option<string>
  readonly serviceAccount: string
  readonly token: ReadonlyArray<string>
  readonly secret: ReadonlyArray<string>
}

/** `KEY=VALUE` pairs; the message names the flag and the key, never the value. */
const pairs = (flag: string, items: ReadonlyArray<string>) =>
  Effect.forEach(items, (item) => {
    const at = item.indexOf("=")
    return at < 0
      ? Effect.fail(usageError(`--${flag} must be KEY=VALUE (item ${items.indexOf(item) + 1} has no "=")`))
      : Effect.succeed([item.slice(0, at), Redacted.make(item.slice(at + 1))] as const)
  }).pipe(Effect.map((entries) => Object.fromEntries(entries)))

export interface ResolvedMount {
  /** The kubelet root the target lies under: the local driver acts on nothing outside it. */
  readonly kubeletRoot: string
  readonly spc: SecretProviderClass
  readonly pod: PodIdentity
  readonly request: PublishRequest
  readonly providerDirs: ReadonlyArray<string>
}

/** The absolute target and its kubelet root; a target without kubelet's shape is a usage error. */
export const resolveTarget = (target: string) => {
  const absolute = nodePath.resolve(target)
  const kubeletRoot = kubeletRootOf(absolute)
  return kubeletRoot === undefined
    ? Effect.fail(usageError(`--target ${JSON.stringify(target)} must be kubelet's volume path ${volumePathShape}`))
    : Effect.succeed({ targetPath: absolute, kubeletRoot })
}

export const resolveMount = Effect.fn("cli.resolveMount")(function* (flags: MountFlags) {
  const spc = yield* readClassFile(flags.classFile)
  const tokens = yield* pairs("token", flags.token)
  const secrets = yield* pairs("secret", flags.secret)
  const { targetPath, kubeletRoot } = yield* resolveTarget(flags.target)
  const pod: PodIdentity = {
    name: flags.pod,
    namespace: Option.getOrElse(flags.namespace, () => spc.metadata.namespace),
    uid: generatePodUid(),
    serviceAccount: flags.serviceAccount
  }
  const request = kubeletPublishRequest({
    spcName: spc.metadata.name,
    targetPath,
    pod,
    tokens,
    secrets,
    nowMillis: yield* Clock.currentTimeMillis
  })
  // Absolute: the provider client dials `unix://<dir>/<name>.sock`, where a relative dir would read as a host.
  const providerDirs = Option.toArray(flags.providerDir).map((dir) => nodePath.resolve(dir))
  return { kubeletRoot, spc, pod, request, providerDirs } satisfies ResolvedMount
})
