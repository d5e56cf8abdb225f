// The command line as operators' manifests write it: upstream's flags in every Go syntax, and one clear
// line for every mistake.
import { assert, describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { readFileSync } from "node:fs"
import { defaultDriverConfig, type DriverConfigShape } from "../../src/config/DriverConfig.js"
import { allFlags } from "../../src/config/Flags.js"
import { type DriverArgs, parseDriverArgs } from "../../src/config/parseDriverArgs.js"

const run = (argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const args: DriverArgs = yield* parseDriverArgs(argv)
    assert.strictEqual(args._tag, "Run")
    return args._tag === "Run" ? args : assert.fail("unreachable")
  })

const failure = (argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(parseDriverArgs(argv))
    assert.strictEqual(error._tag, "ConfigError")
    expect(error.message).not.toContain("\n")
    return error.message
  })

const millis = (d: Duration.Duration) => Duration.toMillis(d)

describe("defaults", () => {
  it.effect("no flags gives upstream's defaults", () =>
    Effect.gen(function* () {
      const { config, ignoredFlags } = yield* run([])
      expect(config).toStrictEqual(defaultDriverConfig)
      expect(ignoredFlags).toEqual([])
      expect(config.endpoint).toEqual({ _tag: "unix", path: "tmp/csi.sock" }) // relative, as upstream
      expect(config.driverName).toBe("secrets-store.csi.k8s.io")
      expect(config.nodeId).toBe("")
      expect(config.logFormatJson).toBe(false)
      expect(config.providerVolume).toBe("/var/run/secrets-store-csi-providers")
      expect(config.additionalProviderVolumePaths).toEqual(["/etc/kubernetes/secrets-store-csi-providers"])
      expect(config.metricsAddr).toEqual({ host: "", port: 8095 })
      expect(config.metricsBackend).toBe("prometheus")
      expect(config.enableSecretRotation).toBe(false)
      expect(millis(config.rotationPollInterval)).toBe(120_000)
      expect(millis(config.restartCooldown)).toBe(300_000)
      expect(config.enablePprof).toBe(false)
      expect(config.pprofPort).toBe(6065)
      expect(config.maxCallRecvMsgSize).toBe(4_194_304)
      expect(config.providerHealthCheck).toBe(false)
      expect(millis(config.providerHealthCheckInterval)).toBe(120_000)
      expect(millis(config.providerTimeout)).toBe(30_000)
      expect(Option.isNone(config.kubeconfig)).toBe(true)
      expect(Option.isNone(config.standaloneClasses)).toBe(true)
      expect(config.verbosity).toBe(0)
    })
  )
})

interface ValueCase {
  readonly flag: string
  readonly value: string
  readonly read: (config: DriverConfigShape) => unknown
  readonly expected: unknown
}

const valueCases: ReadonlyArray<ValueCase> = [
  {
    flag: "endpoint",
    value: "unix:///csi/csi.sock",
    read: (c) => c.endpoint,
    expected: { _tag: "unix", path: "/csi/csi.sock" }
  },
  {
    flag: "endpoint",
    value: "tcp://127.0.0.1:10000",
    read: (c) => c.endpoint,
    expected: { _tag: "tcp", host: "127.0.0.1", port: 10000 }
  },
  { flag: "endpoint", value: "UNIX://csi.sock", read: (c) => c.endpoint, expected: { _tag: "unix", path: "csi.sock" } },
  { flag: "drivername", value: "other.csi.k8s.io", read: (c) => c.driverName, expected: "other.csi.k8s.io" },
  { flag: "nodeid", value: "node-1", read: (c) => c.nodeId, expected: "node-1" },
  { flag: "provider-volume", value: "/p", read: (c) => c.providerVolume, expected: "/p" },
  {
    flag: "additional-provider-volume-paths",
    value: "/a, /b,,",
    read: (c) => c.additionalProviderVolumePaths,
    expected: ["/a", "/b"]
  },
  { flag: "additional-provider-volume-paths", value: "", read: (c) => c.additionalProviderVolumePaths, expected: [] },
  {
    flag: "metrics-addr",
    value: "127.0.0.1:9000",
    read: (c) => c.metricsAddr,
    expected: { host: "127.0.0.1", port: 9000 }
  },
  { flag: "metrics-backend", value: "PROMETHEUS", read: (c) => c.metricsBackend, expected: "prometheus" },
  { flag: "rotation-poll-interval", value: "1h30m", read: (c) => millis(c.rotationPollInterval), expected: 5_400_000 },
  { flag: "rotation-poll-interval", value: "0s", read: (c) => millis(c.rotationPollInterval), expected: 0 },
  { flag: "pprof-port", value: "7000", read: (c) => c.pprofPort, expected: 7000 },
  { flag: "max-call-recv-msg-size", value: "8388608", read: (c) => c.maxCallRecvMsgSize, expected: 8_388_608 },
  {
    flag: "provider-health-check-interval",
    value: "30s",
    read: (c) => millis(c.providerHealthCheckInterval),
    expected: 30_000
  },
  { flag: "provider-timeout", value: "1m59s", read: (c) => millis(c.providerTimeout), expected: 119_000 },
  { flag: "provider-timeout", value: "300ms", read: (c) => millis(c.providerTimeout), expected: 300 },
  { flag: "restart-cooldown", value: "2s", read: (c) => millis(c.restartCooldown), expected: 2_000 },
  {
    flag: "kubeconfig",
    value: "/root/.kube/config",
    read: (c) => Option.getOrUndefined(c.kubeconfig),
    expected: "/root/.kube/config"
  },
  {
    flag: "standalone-classes",
    value: "examples/reference",
    read: (c) => Option.getOrUndefined(c.standaloneClasses),
    expected: "examples/reference"
  },
  {
    flag: "standalone-classes",
    value: "",
    read: (c) => Option.getOrUndefined(c.standaloneClasses),
    expected: undefined
  },
  { flag: "v", value: "5", read: (c) => c.verbosity, expected: 5 }
]

const valueSyntaxes = (flag: string, value: string): ReadonlyArray<ReadonlyArray<string>> => [
  [`--${flag}=${value}`],
  [`--${flag}`, value],
  [`-${flag}=${value}`],
  [`-${flag}`, value]
]

describe("value flags in every Go syntax", () => {
  for (const { expected, flag, read, value } of valueCases) {
    for (const argv of valueSyntaxes(flag, value)) {
      it.effect(JSON.stringify(argv), () =>
        Effect.gen(function* () {
          const { config } = yield* run(argv)
          expect(read(config)).toEqual(expected)
        })
      )
    }
  }
})

const boolFlags: ReadonlyArray<readonly [string, (config: DriverConfigShape) => boolean]> = [
  ["log-format-json", (c) => c.logFormatJson],
  ["enable-secret-rotation", (c) => c.enableSecretRotation],
  ["enable-pprof", (c) => c.enablePprof],
  ["provider-health-check", (c) => c.providerHealthCheck]
]

describe("bool flags in every Go syntax", () => {
  for (const [flag, read] of boolFlags) {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, boolean]> = [
      [[`--${flag}`], true],
      [[`-${flag}`], true],
      [[`--${flag}=true`], true],
      [[`-${flag}=1`], true],
      [[`--${flag}=True`], true],
      [[`--${flag}=false`], false],
      [[`-${flag}=false`], false],
      [[`--${flag}=0`], false],
      [[`--${flag}`, `--${flag}=false`], false] // last one wins, as in Go
    ]
    for (const [argv, expected] of cases) {
      it.effect(`${JSON.stringify(argv)} is ${expected}`, () =>
        Effect.gen(function* () {
          const { config } = yield* run(argv)
          expect(read(config)).toBe(expected)
        })
      )
    }
  }
})

describe("klog verbosity", () => {
  for (const argv of [["-v=5"], ["--v=5"], ["-v", "5"], ["--v", "5"]]) {
    it.effect(JSON.stringify(argv), () => Effect.map(run(argv), ({ config }) => expect(config.verbosity).toBe(5)))
  }
})

describe("a manifest's command line", () => {
  it.effect("upstream's DaemonSet args", () =>
    Effect.gen(function* () {
      const { config } = yield* run([
        "--endpoint=unix:///csi/csi.sock",
        "--nodeid=worker-3",
        "--provider-volume=/var/run/secrets-store-csi-providers",
        "--additional-provider-volume-paths=/etc/kubernetes/secrets-store-csi-providers",
        "--metrics-addr=:8095",
        "--enable-secret-rotation=false",
        "--rotation-poll-interval=2m",
        "--provider-health-check=false",
        "--provider-health-check-interval=2m",
        "-v=2"
      ])
      expect(config.endpoint).toEqual({ _tag: "unix", path: "/csi/csi.sock" })
      expect(config.nodeId).toBe("worker-3")
      expect(config.verbosity).toBe(2)
    })
  )

  it.effect("klog flags are accepted and reported as ignored", () =>
    Effect.gen(function* () {
      const { config, ignoredFlags } = yield* run(["--logtostderr=false", "-vmodule", "x=2", "--nodeid=n"])
      expect(ignoredFlags).toEqual(["--logtostderr", "--vmodule"])
      expect(config.nodeId).toBe("n")
    })
  )

  it.effect("-- ends the flags", () =>
    Effect.map(run(["--nodeid=a", "--"]), ({ config }) => expect(config.nodeId).toBe("a"))
  )

  it.effect("a value may start with a dash", () =>
    Effect.map(run(["--nodeid", "-odd-"]), ({ config }) => expect(config.nodeId).toBe("-odd-"))
  )
})

const badValues: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
  [["--endpoint", "foo"], `invalid value "foo" for flag --endpoint: must start with unix:// or tcp://`],
  [["--endpoint=unix://"], `invalid value "unix://" for flag --endpoint: the socket path after unix:// is empty`],
  [
    ["--endpoint=tcp://localhost"],
    `invalid value "tcp://localhost" for flag --endpoint: tcp:// must be followed by [host]:port`
  ],
  [["--drivername="], `invalid value "" for flag --drivername: must not be empty`],
  [["--rotation-poll-interval", "-1s"], `invalid value "-1s" for flag --rotation-poll-interval: must not be negative`],
  [
    ["--rotation-poll-interval=5"],
    `invalid value "5" for flag --rotation-poll-interval: must be a Go duration such as 300ms, 30s, 2m or 1h30m`
  ],
  [["--max-call-recv-msg-size", "abc"], `invalid value "abc" for flag --max-call-recv-msg-size: must be an integer`],
  [
    ["--max-call-recv-msg-size=0"],
    `invalid value "0" for flag --max-call-recv-msg-size: must be a positive number of bytes`
  ],
  [["--metrics-backend=otel"], `invalid value "otel" for flag --metrics-backend: only prometheus is supported`],
  [["--metrics-addr=8095"], `invalid value "8095" for flag --metrics-addr: must be [host]:port, e.g. :8095`],
  [["--pprof-port=70000"], `invalid value "70000" for flag --pprof-port: must be a port number between 0 and 65535`],
  [["--enable-secret-rotation=yes"], `invalid value "yes" for flag --enable-secret-rotation: must be true or false`],
  [
    ["--provider-health-check-interval=0s"],
    `invalid value "0s" for flag --provider-health-check-interval: must be greater than 0`
  ],
  [
    ["--provider-timeout=2m"],
    `invalid value "2m" for flag --provider-timeout: must be greater than 0 and less than 2m0s (kubelet's deadline)`
  ],
  [
    ["--provider-timeout=0"],
    `invalid value "0" for flag --provider-timeout: must be greater than 0 and less than 2m0s (kubelet's deadline)`
  ],
  [["-v=-1"], `invalid value "-1" for flag -v: must not be negative`],
  [["-v=high"], `invalid value "high" for flag -v: must be an integer`],
  [["--logtostderr=maybe"], `invalid value "maybe" for flag --logtostderr: must be true or false`],
  [["--log_file_max_size=big"], `invalid value "big" for flag --log_file_max_size: must be an integer`],
  [["--version=maybe"], `invalid value "maybe" for flag --version: must be true or false`]
]

const badSyntax: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
  [["--nope"], "unknown flag: --nope"],
  [["-nope=1"], "unknown flag: -nope"],
  [["--endpoint"], "flag needs an argument: --endpoint"],
  [["---endpoint=x"], "bad flag syntax: ---endpoint=x"],
  [["--=x"], "bad flag syntax: --=x"],
  [
    ["--enable-pprof", "false"],
    `unexpected argument "false": flags start with - or -- (bool flags take a value only as --flag=value)`
  ],
  [["serve"], `unexpected argument "serve": flags start with - or -- (bool flags take a value only as --flag=value)`],
  [["--", "x"], `unexpected argument "x": flags start with - or -- (bool flags take a value only as --flag=value)`]
]

describe("mistakes are one ConfigError line naming the flag and the value", () => {
  for (const [argv, message] of [...badValues, ...badSyntax]) {
    it.effect(JSON.stringify(argv), () => Effect.map(failure(argv), (actual) => expect(actual).toBe(message)))
  }

  it.effect("the first bad flag is the one reported", () =>
    Effect.map(failure(["--nodeid=n", "--pprof-port=x", "--endpoint=foo"]), (message) =>
      expect(message).toBe(`invalid value "x" for flag --pprof-port: must be an integer`)
    )
  )
})

describe("--help", () => {
  for (const argv of [["--help"], ["-h"], ["-help"], ["--nodeid=n", "--help", "--whatever"]]) {
    it.effect(JSON.stringify(argv), () =>
      Effect.gen(function* () {
        const args = yield* parseDriverArgs(argv)
        assert.strictEqual(args._tag, "Help")
        const text = args._tag === "Help" ? args.text : ""
        for (const flag of allFlags) expect(text).toContain(`-${flag.name} ${flag.type}`)
        expect(text).toContain(`(default "unix://tmp/csi.sock")`)
        expect(text).toContain("(default 2m0s)")
        expect(text).toContain("/debug/pprof/profile?seconds=N")
      })
    )
  }
})

describe("--version", () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }

  for (const argv of [["--version"], ["-version=true"], ["--version", "--endpoint", "foo"]]) {
    it.live(JSON.stringify(argv), () =>
      Effect.gen(function* () {
        const args = yield* parseDriverArgs(argv)
        assert.strictEqual(args._tag, "Version")
        const json = JSON.parse(args._tag === "Version" ? args.text : "{}") as Record<string, unknown>
        expect(Object.keys(json)).toEqual(["BuildVersion", "GitCommit", "BuildDate"])
        expect(json.BuildVersion).toBe(`v${pkg.version}`)
        expect(typeof json.GitCommit).toBe("string")
        expect(typeof json.BuildDate).toBe("string")
      })
    )
  }

  it.effect("--version=false runs", () =>
    Effect.map(parseDriverArgs(["--version=false"]), (args) => expect(args._tag).toBe("Run"))
  )
})
