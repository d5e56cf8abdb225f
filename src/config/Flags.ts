// The command-line surface: every flag's Go name, type, default (as upstream's code spells it) and usage line.
// One table feeds the parser's arity, the config's defaults and the --help text, so they cannot drift apart.
import * as Duration from "effect/Duration"
import type { DriverConfigFlags } from "./DriverConfig.js"
import type { FlagArity } from "./GoFlags.js"
import { formatGoDuration, parseGoDuration } from "./GoValues.js"

type FlagType = "string" | "bool" | "int" | "duration" | "level"

export interface FlagSpec {
  readonly name: string
  readonly type: FlagType
  readonly default: string
  readonly usage: string
}

/** The flags that become DriverConfig, keyed by its field names; help lists them in this order. */
export const driverFlags: { readonly [K in keyof DriverConfigFlags]: FlagSpec } = {
  endpoint: {
    name: "endpoint",
    type: "string",
    default: "unix://tmp/csi.sock",
    usage: "CSI endpoint (unix:// or tcp:// followed by the address)"
  },
  driverName: { name: "drivername", type: "string", default: "secrets-store.csi.k8s.io", usage: "name of the driver" },
  nodeId: { name: "nodeid", type: "string", default: "", usage: "node id" },
  logFormatJson: { name: "log-format-json", type: "bool", default: "false", usage: "set log formatter to json" },
  providerVolume: {
    name: "provider-volume",
    type: "string",
    default: "/var/run/secrets-store-csi-providers",
    usage: "Volume path for provider"
  },
  additionalProviderVolumePaths: {
    name: "additional-provider-volume-paths",
    type: "string",
    default: "/etc/kubernetes/secrets-store-csi-providers",
    usage: "Comma separated list of additional paths to communicate with providers (searched before --provider-volume)"
  },
  metricsAddr: {
    name: "metrics-addr",
    type: "string",
    default: ":8095",
    usage: "The address the metric endpoint binds to"
  },
  metricsBackend: {
    name: "metrics-backend",
    type: "string",
    default: "Prometheus",
    usage: "Backend used for metrics (only prometheus)"
  },
  enableSecretRotation: {
    name: "enable-secret-rotation",
    type: "bool",
    default: "false",
    usage: "Enable secret rotation feature [alpha]"
  },
  rotationPollInterval: {
    name: "rotation-poll-interval",
    type: "duration",
    default: "2m",
    usage: "Secret rotation poll interval duration: minimum age of the last write before a republish re-fetches"
  },
  restartCooldown: {
    name: "restart-cooldown",
    type: "duration",
    default: "5m",
    usage:
      "least time between two restarts of one workload after rotations (SecretProviderClasses annotated " +
      "secrets-store.csi.k8s.io/restart-on-rotation); a rotation inside it is applied when it ends"
  },
  enablePprof: {
    name: "enable-pprof",
    type: "bool",
    default: "false",
    usage:
      "enable read-only profiling on 127.0.0.1:--pprof-port: /debug/pprof/profile?seconds=N (a .cpuprofile) " +
      "and /debug/pprof/heap (a .heapsnapshot), for Chrome DevTools"
  },
  pprofPort: { name: "pprof-port", type: "int", default: "6065", usage: "port for the pprof server (on 127.0.0.1)" },
  maxCallRecvMsgSize: {
    name: "max-call-recv-msg-size",
    type: "int",
    default: "4194304",
    usage: "maximum size in bytes of gRPC response from plugins"
  },
  providerHealthCheck: {
    name: "provider-health-check",
    type: "bool",
    default: "false",
    usage: "Enable health check for configured providers"
  },
  providerHealthCheckInterval: {
    name: "provider-health-check-interval",
    type: "duration",
    default: "2m",
    usage: "Provider healthcheck interval duration"
  },
  providerTimeout: {
    name: "provider-timeout",
    type: "duration",
    default: "30s",
    usage: "deadline of one provider Mount call, above 0 and below kubelet's 2m"
  },
  kubeletRootDir: {
    name: "kubelet-root-dir",
    type: "string",
    default: "/var/lib/kubelet",
    usage: "kubelet's root directory: the driver acts only on <dir>/pods/<uid>/volumes/kubernetes.io~csi/<name>/mount"
  },
  maxProviderFiles: {
    name: "max-provider-files",
    type: "int",
    default: "10000",
    usage: "largest number of files one provider response may hold; more is an invalid provider response"
  },
  tmpfsSizeLimit: {
    name: "tmpfs-size-limit",
    type: "int",
    default: "100663296",
    usage:
      "size limit in bytes of each volume's tmpfs (mounted nosuid,nodev); a larger provider response is refused; " +
      "0 = no limit. The default holds twice the largest response the other defaults accept"
  },
  kubeconfig: {
    name: "kubeconfig",
    type: "string",
    default: "",
    usage: "Paths to a kubeconfig. Only required if out-of-cluster."
  },
  standaloneClasses: {
    name: "standalone-classes",
    type: "string",
    default: "",
    usage:
      "Standalone mode, without a cluster: read SecretProviderClasses from the YAML files in this directory, " +
      "keep pod statuses in memory, never contact an API server (empty: off)"
  },
  verbosity: { name: "v", type: "level", default: "0", usage: "number for the log level verbosity" },
  providerCircuitThreshold: {
    name: "provider-circuit-threshold",
    type: "int",
    default: "5",
    usage:
      "consecutive unavailable or timed-out Mount calls that open a provider's circuit: calls then fail at once " +
      "for a cool-off of 1s doubling to 2m, until one trial call succeeds (0: never open)"
  },
  providerMaxConcurrentCalls: {
    name: "provider-max-concurrent-calls",
    type: "int",
    default: "0",
    usage: "Mount calls in flight per provider; more wait in arrival order, under --provider-timeout (0: unlimited)"
  },
  nodeCacheMaxBytes: {
    name: "node-cache-max-bytes",
    type: "int",
    default: "67108864",
    usage:
      "memory bound of the node cache of classes annotated secrets-store.csi.k8s.io/node-cache-max-staleness " +
      "(file contents and keys; least recently used out)"
  }
}

const versionFlag: FlagSpec = { name: "version", type: "bool", default: "false", usage: "Print the version and exit" }

/** klog's other flags: accepted so existing manifests keep starting, but without effect (logs go to stderr). */
export const klogCompatFlags: ReadonlyArray<FlagSpec> = [
  {
    name: "add_dir_header",
    type: "bool",
    default: "false",
    usage: "If true, adds the file directory to the header of the log messages"
  },
  { name: "alsologtostderr", type: "bool", default: "false", usage: "log to standard error as well as files" },
  {
    name: "log_backtrace_at",
    type: "string",
    default: ":0",
    usage: "when logging hits line file:N, emit a stack trace"
  },
  { name: "log_dir", type: "string", default: "", usage: "If non-empty, write log files in this directory" },
  { name: "log_file", type: "string", default: "", usage: "If non-empty, use this log file" },
  {
    name: "log_file_max_size",
    type: "int",
    default: "1800",
    usage: "Defines the maximum size a log file can grow to (MB)"
  },
  { name: "logtostderr", type: "bool", default: "true", usage: "log to standard error instead of files" },
  {
    name: "one_output",
    type: "bool",
    default: "false",
    usage: "If true, only write logs to their native severity level"
  },
  { name: "skip_headers", type: "bool", default: "false", usage: "If true, avoid header prefixes in the log messages" },
  { name: "skip_log_headers", type: "bool", default: "false", usage: "If true, avoid headers when opening log files" },
  { name: "stderrthreshold", type: "string", default: "2", usage: "logs at or above this threshold go to stderr" },
  {
    name: "vmodule",
    type: "string",
    default: "",
    usage: "comma-separated list of pattern=N settings for file-filtered logging"
  }
]

export const allFlags: ReadonlyArray<FlagSpec> = [...Object.values(driverFlags), versionFlag, ...klogCompatFlags]

export const flagArity: ReadonlyMap<string, FlagArity> = new Map(
  allFlags.map((flag) => [flag.name, flag.type === "bool" ? "bool" : "value"])
)

export const driverFlagDefaults = Object.fromEntries(
  Object.entries(driverFlags).map(([key, flag]) => [key, flag.default])
) as DriverConfigFlags

const describe = (flag: FlagSpec): string => {
  const dashes = flag.name.length === 1 ? "-" : "--"
  const nanos = flag.type === "duration" ? parseGoDuration(flag.default) : undefined
  // Shown the way Go's flag package prints defaults: quoted strings, durations as time.Duration.String.
  const shownDefault =
    flag.type === "string"
      ? JSON.stringify(flag.default)
      : nanos === undefined
        ? flag.default
        : formatGoDuration(Duration.nanos(nanos))
  return `  ${dashes}${flag.name} ${flag.type}\n    \t${flag.usage} (default ${shownDefault})`
}

export const helpText = (program: string): string =>
  [
    `Usage of ${program}:`,
    "Flags use Go syntax: -name=value, --name=value, -name value or --name value; " +
      "bool flags as --name or --name=false.",
    "Durations are Go durations (300ms, 30s, 2m, 1h30m).",
    "",
    ...[...Object.values(driverFlags), versionFlag].map(describe),
    "",
    "klog flags accepted for compatibility, without effect (logs always go to stderr):",
    ...klogCompatFlags.map(describe),
    ""
  ].join("\n")
