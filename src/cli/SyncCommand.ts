// `secrets-store sync`: what the sync controller would write for one SecretSync, without a cluster: the same
// Mount request, provider client, data rule and TLS split, then the Secret printed (keys, types, sizes; values
// redacted unless --show-values). For provider authors and dry runs; tokens come from --token AUDIENCE=JWT.
import * as nodePath from "node:path"
import * as Clock from "effect/Clock"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { defaultDriverConfig } from "../config/DriverConfig.js"
import { decodeSecretSync, type SecretSync, secretSyncProblems, serviceAccountTokenType } from "../domain/SecretSync.js"
import { ProviderClient } from "../provider/ProviderClient.js"
import { readClassFile, readDocuments } from "../standalone/ClassFiles.js"
import { controllerDefaults } from "../sync-controller/ControllerConfig.js"
import { desiredSecret, FIELD_MANAGER } from "../sync-controller/SecretApply.js"
import { mountRequest, secretData } from "../sync-controller/SecretData.js"
import { TOKEN_SECONDS } from "../sync-controller/Tokens.js"
import { usageError } from "./ExitCode.js"
import { defaultProviderDirs } from "./LocalDriver.js"

const readSecretSync = (file: string) =>
  Effect.gen(function* () {
    const documents = yield* readDocuments(file)
    const document = documents.find((d) => (d.value as { kind?: unknown } | null)?.kind === "SecretSync")
    if (document === undefined) return yield* usageError(`${file}: no document of kind SecretSync`)
    const ss = yield* decodeSecretSync(document.value).pipe(
      Effect.mapError(() => usageError(`${file}:${document.line}: not a secret-sync.x-k8s.io/v1alpha1 SecretSync`))
    )
    const problems = secretSyncProblems(ss)
    if (problems.length > 0) return yield* usageError(`${file}:${document.line}: ${problems.join("; ")}`)
    if (ss.spec.secretObject.type === serviceAccountTokenType) {
      return yield* usageError(`${file}:${document.line}: type ${serviceAccountTokenType} is refused by the controller`)
    }
    return ss
  })

/** The tokens JSON of the Mount call, keyed by audience, from `AUDIENCE=JWT` items. */
const tokensJson = (items: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    if (items.length === 0) return undefined
    const expires = new Date((yield* Clock.currentTimeMillis) + TOKEN_SECONDS * 1000)
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z")
    const json: Record<string, { token: string; expirationTimestamp: string }> = {}
    for (const [i, item] of items.entries()) {
      const at = item.indexOf("=")
      if (at <= 0) return yield* usageError(`--token must be AUDIENCE=JWT (item ${i + 1} has no audience)`)
      json[item.slice(0, at)] = { token: item.slice(at + 1), expirationTimestamp: expires }
    }
    return Redacted.make(JSON.stringify(json))
  })

const render = (
  ss: SecretSync,
  body: Readonly<Record<string, unknown>>,
  showValues: boolean
): ReadonlyArray<string> => {
  const meta = body["metadata"] as { labels: Record<string, string>; annotations?: Record<string, string> }
  const data = body["data"] as Record<string, string>
  const pairs = (m: Record<string, string> | undefined) =>
    Object.entries(m ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")
  const width = Math.max(0, ...Object.keys(data).map((k) => k.length))
  return [
    `secret ${ss.metadata.namespace}/${ss.metadata.name} type ${String(body["type"])} ` +
      `(server-side apply, field manager ${FIELD_MANAGER})`,
    `labels: ${pairs(meta.labels)}`,
    ...(meta.annotations === undefined ? [] : [`annotations: ${pairs(meta.annotations)}`]),
    `owner: SecretSync ${ss.metadata.namespace}/${ss.metadata.name}`,
    ...Object.entries(data).map(([key, b64]) => {
      const bytes = Buffer.from(b64, "base64")
      return `  ${key.padEnd(width)}  ${bytes.length} bytes  ${
        showValues ? JSON.stringify(bytes.toString("utf8")) : "<redacted>"
      }`
    })
  ]
}

export const syncCommand = Command.make(
  "sync",
  {
    secretSync: Flag.String("secretsync").pipe(Flag.withDescription("the SecretSync file (YAML or JSON)")),
    classFile: Flag.String("class").pipe(Flag.withDescription("the SecretProviderClass file it names")),
    providerDir: Flag.String("provider-dir").pipe(Flag.optional, Flag.withDescription("where <provider>.sock is")),
    token: Flag.String("token").pipe(
      Flag.atLeast(0),
      Flag.withDescription("AUDIENCE=JWT, repeatable: a service-account token")
    ),
    showValues: Flag.Boolean("show-values").pipe(
      Flag.withDefault(false),
      Flag.withDescription("print values instead of <redacted>")
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const ss = yield* readSecretSync(flags.secretSync)
      const spc = yield* readClassFile(flags.classFile)
      if (spc.metadata.name !== ss.spec.secretProviderClassName || spc.metadata.namespace !== ss.metadata.namespace) {
        return yield* usageError(
          `${flags.classFile} holds secretproviderclass ${spc.metadata.namespace}/${spc.metadata.name}, ` +
            `not ${ss.metadata.namespace}/${ss.spec.secretProviderClassName} as the SecretSync names`
        )
      }
      const provider = spc.spec.provider ?? ""
      const tokens = yield* tokensJson(flags.token)
      const request = mountRequest({
        ss,
        parameters: spc.spec.parameters ?? {},
        pod: { name: "secrets-store-cli", uid: "" },
        tokens
      })
      const mounted = yield* (yield* ProviderClient).mount(provider, request)
      const data = secretData(ss, mounted.files)
      if (Result.isFailure(data)) return yield* data.failure
      yield* Console.log(render(ss, Redacted.value(desiredSecret(ss, data.success)), flags.showValues).join("\n"))
    }).pipe(
      Effect.provide(
        ProviderClient.layer({
          providerDirs: Option.match(flags.providerDir, {
            onNone: () => defaultProviderDirs,
            onSome: (d) => [nodePath.resolve(d)]
          }),
          maxCallRecvMsgSize: controllerDefaults.maxCallRecvMsgSize,
          maxProviderFiles: defaultDriverConfig.maxProviderFiles,
          providerTimeout: controllerDefaults.providerTimeout,
          healthCheck: false,
          healthCheckInterval: defaultDriverConfig.providerHealthCheckInterval
        })
      )
    )
).pipe(
  Command.withDescription(
    "Print the Secret the sync controller would write for a SecretSync, calling the provider locally"
  )
)
