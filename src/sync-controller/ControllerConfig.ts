// The sync controller's command line: upstream secrets-store-sync-controller v0.0.4's flags (same names, types and
// defaults) plus this project's -v, --log-format-json, --kubeconfig and a few new ones, in Go flag syntax, decoded
// once into a SyncControllerConfig. A bad value is one line naming the flag, as Go's flag package prints it.
import * as Duration from "effect/Duration"
import * as Result from "effect/Result"
import { readBuildInfo, versionJson } from "../config/BuildInfo.js"
import { ConfigError } from "../config/ConfigError.js"
import { displayFlag, parseGoFlags } from "../config/GoFlags.js"
import {
  formatGoDuration,
  type HostPort,
  parseGoBool,
  parseGoDuration,
  parseGoInt,
  parseHostPort
} from "../config/GoValues.js"
import * as Effect from "effect/Effect"
import { parseAudiences, type TokenAudiences } from "./TokenAudiences.js"

export const PROGRAM = "secrets-store-sync-controller"

export interface SyncControllerConfig {
  readonly providerVolume: string
  readonly audiences: TokenAudiences
  /** 0 turns the global poll off (per-object refresh annotations still apply). */
  readonly rotationPollInterval: Duration.Duration
  readonly maxCallRecvMsgSize: number
  /** undefined: "0", the server is off (controller-runtime's convention). */
  readonly metricsAddr: HostPort | undefined
  readonly healthProbeAddr: HostPort | undefined
  readonly leaderElect: boolean
  /** "" means the namespace the controller runs in. */
  readonly leaderElectionNamespace: string
  readonly kubeconfig: string | undefined
  readonly logFormatJson: boolean
  readonly verbosity: number
  readonly providerTimeout: Duration.Duration
  /** How often the last applied Secrets are applied again (no provider call); 0 turns it off. */
  readonly secretReapplyInterval: Duration.Duration
  /** The floor of the refresh-interval annotation. */
  readonly minRefreshInterval: Duration.Duration
}

type Parse<T> = (text: string) => Result.Result<T, string>

interface FlagDef<K extends keyof SyncControllerConfig> {
  readonly name: string
  readonly type: "string" | "bool" | "int" | "duration" | "level"
  readonly default: string
  readonly usage: string
  readonly parse: Parse<SyncControllerConfig[K]>
}

const ok = Result.succeed
const orFail = <T>(value: T | undefined, why: string): Result.Result<T, string> =>
  value === undefined ? Result.fail(why) : ok(value)

const duration =
  (check: (d: Duration.Duration) => string | undefined): Parse<Duration.Duration> =>
  (text) => {
    const nanos = parseGoDuration(text)
    if (nanos === undefined) return Result.fail("must be a Go duration such as 30s, 1m or 12h")
    const d = Duration.nanos(nanos)
    const problem = check(d)
    return problem === undefined ? ok(d) : Result.fail(problem)
  }
const notNegative = (d: Duration.Duration) => (Duration.isNegative(d) ? "must not be negative" : undefined)
const positive = (d: Duration.Duration) => (Duration.isPositive(d) ? undefined : "must be greater than 0")
const bool: Parse<boolean> = (text) => orFail(parseGoBool(text), "must be true or false")
const address: Parse<HostPort | undefined> = (text) =>
  text === "0" ? ok(undefined) : orFail(parseHostPort(text), "must be [host]:port (e.g. :8085), or 0 to turn it off")
const positiveInt: Parse<number> = (text) => {
  const n = parseGoInt(text)
  return n === undefined ? Result.fail("must be an integer") : n > 0 ? ok(n) : Result.fail("must be positive")
}

export const controllerFlags: { readonly [K in keyof SyncControllerConfig]: FlagDef<K> } = {
  providerVolume: {
    name: "provider-volume",
    type: "string",
    default: "/provider",
    usage: "Volume path for provider",
    parse: ok
  },
  audiences: {
    name: "token-request-audience",
    type: "string",
    default: "",
    usage:
      "comma-separated audiences of the service-account tokens; an entry provider=audience goes to that provider only",
    parse: parseAudiences
  },
  rotationPollInterval: {
    name: "rotation-poll-interval",
    type: "duration",
    default: "12h",
    usage: "how often every SecretSync is synced from its provider again (0 turns it off)",
    parse: duration(notNegative)
  },
  maxCallRecvMsgSize: {
    name: "max-call-recv-msg-size",
    type: "int",
    default: "4194304",
    usage: "maximum size in bytes of gRPC response from plugins",
    parse: positiveInt
  },
  metricsAddr: {
    name: "metrics-bind-address",
    type: "string",
    default: ":8085",
    usage: "The address the metric endpoint binds to (0: off)",
    parse: address
  },
  healthProbeAddr: {
    name: "health-probe-bind-address",
    type: "string",
    default: ":8081",
    usage: "The address the probe endpoint binds to (0: off)",
    parse: address
  },
  leaderElect: {
    name: "leader-elect",
    type: "bool",
    default: "false",
    usage: "Enable leader election (a coordination.k8s.io Lease): only one replica syncs at a time",
    parse: bool
  },
  leaderElectionNamespace: {
    name: "leader-election-namespace",
    type: "string",
    default: "",
    usage: "Namespace of the leader election Lease (default: the controller's own namespace)",
    parse: ok
  },
  kubeconfig: {
    name: "kubeconfig",
    type: "string",
    default: "",
    usage: "Paths to a kubeconfig. Only required if out-of-cluster.",
    parse: (text) => ok(text === "" ? undefined : text)
  },
  logFormatJson: {
    name: "log-format-json",
    type: "bool",
    default: "false",
    usage: "set log formatter to json",
    parse: bool
  },
  verbosity: {
    name: "v",
    type: "level",
    default: "0",
    usage: "number for the log level verbosity",
    parse: (text) => {
      const n = parseGoInt(text)
      return n === undefined ? Result.fail("must be an integer") : n < 0 ? Result.fail("must not be negative") : ok(n)
    }
  },
  providerTimeout: {
    name: "provider-timeout",
    type: "duration",
    default: "30s",
    usage: "deadline of one provider Mount call",
    parse: duration(positive)
  },
  secretReapplyInterval: {
    name: "secret-reapply-interval",
    type: "duration",
    default: "1m",
    usage: "how often the last applied Secrets are applied again, restoring deleted or edited ones (0 turns it off)",
    parse: duration(notNegative)
  },
  minRefreshInterval: {
    name: "min-refresh-interval",
    type: "duration",
    default: "1m",
    usage: "the smallest refresh-interval annotation honoured; smaller ones are raised to it",
    parse: duration(positive)
  }
}

/** controller-runtime's zap flags: accepted so upstream's manifests start, without effect. */
const zapFlags = [
  { name: "zap-devel", arity: "bool" },
  { name: "zap-log-level", arity: "value" },
  { name: "zap-encoder", arity: "value" },
  { name: "zap-stacktrace-level", arity: "value" },
  { name: "zap-time-encoding", arity: "value" }
] as const

const arity = new Map<string, "bool" | "value">([
  ...Object.values(controllerFlags).map((f) => [f.name, f.type === "bool" ? "bool" : "value"] as const),
  ["version", "bool"],
  ...zapFlags.map((f) => [f.name, f.arity] as const)
])

export const helpText = (): string => {
  const describe = (flag: { name: string; type: string; default: string; usage: string }) => {
    const nanos = flag.type === "duration" ? parseGoDuration(flag.default) : undefined
    const shown =
      flag.type === "string"
        ? JSON.stringify(flag.default)
        : nanos === undefined
          ? flag.default
          : formatGoDuration(Duration.nanos(nanos))
    return `  ${displayFlag(flag.name)} ${flag.type}\n    \t${flag.usage} (default ${shown})`
  }
  return [
    `Usage of ${PROGRAM}:`,
    ...Object.values(controllerFlags).map(describe),
    describe({ name: "version", type: "bool", default: "false", usage: "Print the version and exit" }),
    `  accepted without effect: ${zapFlags.map((f) => displayFlag(f.name)).join(", ")}`,
    ""
  ].join("\n")
}

export type ControllerArgs =
  | { readonly _tag: "Run"; readonly config: SyncControllerConfig; readonly ignoredFlags: ReadonlyArray<string> }
  | { readonly _tag: "Help"; readonly text: string }
  | { readonly _tag: "Version"; readonly text: string }

const invalid = (name: string, value: string, why: string) =>
  new ConfigError({ message: `invalid value ${JSON.stringify(value)} for flag ${displayFlag(name)}: ${why}` })

/** The config from flag values (defaults for absent ones); the first bad flag on the command line is reported. */
export const decodeControllerFlags = (
  given: ReadonlyMap<string, string>
): Result.Result<SyncControllerConfig, ConfigError> => {
  const config: Record<string, unknown> = {}
  const order = [...given.keys()]
  const entries = Object.entries(controllerFlags) as Array<
    [keyof SyncControllerConfig, FlagDef<keyof SyncControllerConfig>]
  >
  const sorted = entries.sort(([, a], [, b]) => order.indexOf(a.name) - order.indexOf(b.name))
  for (const [key, flag] of sorted) {
    const text = given.get(flag.name) ?? flag.default
    const parsed = flag.parse(text)
    if (Result.isFailure(parsed)) return Result.fail(invalid(flag.name, text, parsed.failure))
    config[key] = parsed.success
  }
  return ok(config as unknown as SyncControllerConfig)
}

export const controllerDefaults: SyncControllerConfig = Result.getOrThrow(decodeControllerFlags(new Map()))

export const parseControllerArgs = Effect.fn("parseControllerArgs")(function* (
  argv: ReadonlyArray<string>
): Effect.fn.Return<ControllerArgs, ConfigError> {
  const parsed = parseGoFlags(argv, arity)
  if (Result.isFailure(parsed)) return yield* new ConfigError({ message: parsed.failure })
  if (parsed.success._tag === "Help") return { _tag: "Help", text: helpText() }
  const given = parsed.success.values
  const version = given.get("version") ?? "false"
  const show = parseGoBool(version)
  if (show === undefined) return yield* invalid("version", version, "must be true or false")
  if (show) return { _tag: "Version", text: versionJson(yield* readBuildInfo()) }
  const config = decodeControllerFlags(given)
  if (Result.isFailure(config)) return yield* config.failure
  const ignoredFlags = zapFlags.filter((f) => given.has(f.name)).map((f) => displayFlag(f.name))
  return { _tag: "Run", config: config.success, ignoredFlags }
})
