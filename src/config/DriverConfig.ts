// The driver's configuration: every flag of upstream v1.6 plus the driver's own (--provider-timeout,
// --standalone-classes, ...), decoded once from the command line's Go-syntax strings by DriverConfigFromFlags into a
// DriverConfigShape that src/Driver.ts hands to each layer's options.
import * as nodePath from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { driverFlagDefaults } from "./Flags.js"
import {
  formatGoDuration,
  formatHostPort,
  parseGoBool,
  parseGoDuration,
  parseGoInt,
  parseHostPort
} from "./GoValues.js"

export const Endpoint = Schema.Union([
  Schema.TaggedStruct("unix", { path: Schema.String }),
  Schema.TaggedStruct("tcp", { host: Schema.String, port: Schema.Number })
])
export type Endpoint = typeof Endpoint.Type

/** A TCP listen address; host "" means every interface (Go's `:8095`). */
export const ListenAddress = Schema.Struct({ host: Schema.String, port: Schema.Number })
export type ListenAddress = typeof ListenAddress.Type

/** A flag's codec: Go-syntax text on the encoded side; `decode` fails with the message shown to the operator. */
const flagCodec = <T>(
  to: Schema.Codec<T>,
  decode: (text: string) => Result.Result<T, string>,
  encode: (value: T) => string
) =>
  Schema.String.pipe(
    Schema.decodeTo(
      to,
      SchemaTransformation.transformEffect({
        decode: (text: string) =>
          Result.match(decode(text), {
            onSuccess: (value) => Effect.succeed(value),
            onFailure: (message) => Effect.fail(new SchemaIssue.InvalidValue({ message }, text))
          }),
        encode: (value: T) => Effect.succeed(encode(value))
      })
    )
  )

const checked = <T>(
  value: T | undefined,
  syntax: string,
  check: (value: T) => string | undefined = () => undefined
) => {
  if (value === undefined) return Result.fail(syntax)
  const problem = check(value)
  return problem === undefined ? Result.succeed(value) : Result.fail(problem)
}

const BoolFlag = flagCodec(Schema.Boolean, (text) => checked(parseGoBool(text), "must be true or false"), String)

const intFlag = (check: (n: number) => string | undefined) =>
  flagCodec(Schema.Number, (text) => checked(parseGoInt(text), "must be an integer", check), String)

const durationFlag = (check: (d: Duration.Duration) => string | undefined) =>
  flagCodec(
    Schema.Duration,
    (text) => {
      const nanos = parseGoDuration(text)
      return checked(
        nanos === undefined ? undefined : Duration.nanos(nanos),
        "must be a Go duration such as 300ms, 30s, 2m or 1h30m",
        check
      )
    },
    formatGoDuration
  )

const notNegative = (d: Duration.Duration) => (Duration.isNegative(d) ? "must not be negative" : undefined)
const positive = (d: Duration.Duration) => (Duration.isPositive(d) ? undefined : "must be greater than 0")
/** An absolute directory without `.`, `..`, doubled or trailing slashes (a trailing slash is dropped). */
const absoluteCleanDir = (text: string): string | undefined => {
  const trimmed = text.length > 1 ? text.replace(/\/+$/, "") : text
  return trimmed.startsWith("/") && nodePath.posix.normalize(trimmed) === trimmed && trimmed !== "/"
    ? trimmed
    : undefined
}
const KUBELET_DEADLINE = Duration.minutes(2)

const decodeEndpoint = (text: string): Result.Result<Endpoint, string> => {
  // Upstream keeps everything after "://" as the address: `unix://tmp/csi.sock` is the relative tmp/csi.sock.
  const scheme = text.slice(0, text.indexOf("://")).toLowerCase()
  const address = text.slice(text.indexOf("://") + 3)
  if (scheme === "unix")
    return checked(
      address === "" ? undefined : ({ _tag: "unix", path: address } as const),
      "the socket path after unix:// is empty"
    )
  if (scheme !== "tcp") return Result.fail("must start with unix:// or tcp://")
  const hostPort = parseHostPort(address)
  return checked(
    hostPort === undefined ? undefined : ({ _tag: "tcp", ...hostPort } as const),
    "tcp:// must be followed by [host]:port"
  )
}

const encodeEndpoint = (endpoint: Endpoint): string =>
  endpoint._tag === "unix" ? `unix://${endpoint.path}` : `tcp://${formatHostPort(endpoint)}`

export const DriverConfigFromFlags = Schema.Struct({
  endpoint: flagCodec(Endpoint, decodeEndpoint, encodeEndpoint),
  driverName: flagCodec(Schema.String, (text) => checked(text === "" ? undefined : text, "must not be empty"), String),
  nodeId: Schema.String,
  logFormatJson: BoolFlag,
  providerVolume: Schema.String,
  additionalProviderVolumePaths: flagCodec(
    Schema.Array(Schema.String),
    (text) =>
      Result.succeed(
        text
          .split(",")
          .map((path) => path.trim())
          .filter((path) => path !== "")
      ),
    (paths) => paths.join(",")
  ),
  metricsAddr: flagCodec(
    ListenAddress,
    (text) => checked(parseHostPort(text), "must be [host]:port, e.g. :8095"),
    formatHostPort
  ),
  metricsBackend: flagCodec(
    Schema.Literal("prometheus"),
    (text) =>
      checked(
        text.toLowerCase() === "prometheus" ? ("prometheus" as const) : undefined,
        "only prometheus is supported"
      ),
    String
  ),
  enableSecretRotation: BoolFlag,
  rotationPollInterval: durationFlag(notNegative),
  restartCooldown: durationFlag(notNegative),
  enablePprof: BoolFlag,
  pprofPort: intFlag((n) => (n < 0 || n > 65_535 ? "must be a port number between 0 and 65535" : undefined)),
  maxCallRecvMsgSize: intFlag((n) => (n > 0 ? undefined : "must be a positive number of bytes")),
  providerHealthCheck: BoolFlag,
  providerHealthCheckInterval: durationFlag(positive),
  providerTimeout: durationFlag((d) =>
    Duration.isPositive(d) && Duration.isLessThan(d, KUBELET_DEADLINE)
      ? undefined
      : "must be greater than 0 and less than 2m0s (kubelet's deadline)"
  ),
  kubeletRootDir: flagCodec(
    Schema.String,
    (text) => checked(absoluteCleanDir(text), "must be an absolute, clean path"),
    String
  ),
  maxProviderFiles: intFlag((n) => (n > 0 ? undefined : "must be a positive number of files")),
  tmpfsSizeLimit: intFlag((n) => (n < 0 ? "must be a number of bytes, 0 for no limit" : undefined)),
  kubeconfig: flagCodec(
    Schema.Option(Schema.String),
    (text) => Result.succeed(text === "" ? Option.none() : Option.some(text)),
    Option.getOrElse(() => "")
  ),
  standaloneClasses: flagCodec(
    Schema.Option(Schema.String),
    (text) => Result.succeed(text === "" ? Option.none() : Option.some(text)),
    Option.getOrElse(() => "")
  ),
  verbosity: intFlag((n) => (n < 0 ? "must not be negative" : undefined)),
  providerCircuitThreshold: intFlag((n) => (n < 0 ? "must not be negative" : undefined)),
  providerMaxConcurrentCalls: intFlag((n) => (n < 0 ? "must not be negative" : undefined)),
  nodeCacheMaxBytes: intFlag((n) => (n < 0 ? "must not be negative" : undefined))
})

export type DriverConfigShape = typeof DriverConfigFromFlags.Type
/** The encoded side: one Go-syntax string per flag, keyed like the decoded config. */
export type DriverConfigFlags = typeof DriverConfigFromFlags.Encoded

/** Upstream's defaults, decoded by the same schema as a command line without flags. */
export const defaultDriverConfig: DriverConfigShape = Schema.decodeSync(DriverConfigFromFlags)(driverFlagDefaults)
