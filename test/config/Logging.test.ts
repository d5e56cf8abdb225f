// klog-style verbosity and the two line formats, captured from the console the loggers really write to. The
// expected lines are klog's own: its text fixtures (klog test/output.go) and the Kubernetes JSON logger's
// (component-base/logs/json), with the timestamp, pid and location filled in.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { TestClock, TestConsole } from "effect/testing"
import { kObj, Logging, LOCATION_KEY, logV, Verbosity } from "../../src/config/Logging.js"
import { formatJson, formatText, goQuote, type KlogEntry } from "../../src/config/KlogFormat.js"
import { parseDriverArgs } from "../../src/config/parseDriverArgs.js"

// 2023-12-01T20:24:05.325Z
const AT_MILLIS = 1701462245325
const PID = String(process.pid).padStart(7, " ")

/** Runs `body` under the logger that `argv` configures at AT_MILLIS; returns what reached stderr and stdout. */
const logsOf = (argv: ReadonlyArray<string>, body: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const args = yield* parseDriverArgs(argv)
    if (args._tag !== "Run") return yield* Effect.die(`expected Run, got ${args._tag}`)
    yield* TestClock.setTime(AT_MILLIS)
    yield* body.pipe(Effect.provide(Logging.layer(args.config, "driver")))
    return {
      stderr: (yield* TestConsole.errorLines).map(String),
      stdout: (yield* TestConsole.logLines).map(String)
    }
  }).pipe(Effect.provide(TestConsole.layer))

const entry = (overrides: Partial<KlogEntry>): KlogEntry => ({
  severity: "I",
  micros: 1701462245325123n,
  pid: 12345,
  location: "output.go:123",
  message: "test",
  v: 0,
  err: undefined,
  values: [],
  ...overrides
})

describe("klog text format (klog test/output.go fixtures)", () => {
  const cases: ReadonlyArray<readonly [string, Partial<KlogEntry>, string]> = [
    ["InfoS with a value", { values: [["akey", "avalue"]] }, `"test" akey="avalue"`],
    ["no values", {}, `"test"`],
    [
      "quotes escaped",
      { message: '"quoted"', values: [["key", '"quoted value"']] },
      `"\\"quoted\\"" key="\\"quoted value\\""`
    ],
    [
      "numbers bare",
      {
        values: [
          ["firstKey", 1],
          ["secondKey", 2]
        ]
      },
      `"test" firstKey=1 secondKey=2`
    ],
    [
      "a float and a bool",
      {
        values: [
          ["durationMs", 4.2],
          ["ok", true]
        ]
      },
      `"test" durationMs=4.2 ok=true`
    ],
    [
      "KObj as namespace/name",
      { values: [["pod", kObj({ namespace: "kube-system", name: "pod-1" })]] },
      `"test" pod="kube-system/pod-1"`
    ],
    ["ErrorS: err first", { severity: "E", message: "world", err: "hello" }, `"world" err="hello"`],
    ["message newline stays quoted", { message: "helloworld\n" }, `"helloworld\\n"`],
    ["nil", { values: [["akey2", undefined]] }, `"test" akey2=<nil>`]
  ]
  for (const [title, overrides, tail] of cases) {
    it(title, () => {
      const severity = overrides.severity ?? "I"
      expect(formatText(entry(overrides))).toBe(`${severity}1201 20:24:05.325123   12345 output.go:123] ${tail}`)
    })
  }

  it("multi-line values use klog's =< block", () => {
    const line = formatText(
      entry({
        values: [
          ["output", "line 1\nline 2"],
          ["trailing", "a\n"]
        ]
      })
    )
    expect(line).toBe(
      `I1201 20:24:05.325123   12345 output.go:123] "test" output=<\n\tline 1\n\tline 2\n >` + ` trailing=<\n\ta\n >`
    )
  })

  it("the header: severity letter, mmdd, microseconds, pid in 7 columns", () => {
    expect(formatText(entry({ severity: "W", pid: 7, micros: 1704067200000001n, location: "Publisher" }))).toBe(
      `W0101 00:00:00.000001       7 Publisher] "test"`
    )
  })

  it("strconv.Quote: control characters, DEL and unprintable runes escaped, letters kept", () => {
    expect(goQuote("a\u0001b\u007f\u0007\u000b\tü\u2028")).toBe('"a\\x01b\\x7f\\a\\v\\tü\\u2028"')
  })
})

describe("klog JSON format (component-base/logs/json fixtures)", () => {
  it("InfoS: ts in milliseconds (epochMillisTimeEncoder), caller, msg, v, then the keys flat", () => {
    expect(formatJson(entry({ values: [["akey", "<&>"]] }))).toBe(
      `{"ts":1701462245325.123,"caller":"output.go:123","msg":"test","v":0,"akey":"<&>"}`
    )
  })
  it("V(9).Info carries its level", () => {
    expect(formatJson(entry({ message: "you see me", v: 9 }))).toBe(
      `{"ts":1701462245325.123,"caller":"output.go:123","msg":"you see me","v":9}`
    )
  })
  it("ErrorS: no v, err after the keys (zapr appends it)", () => {
    expect(formatJson(entry({ severity: "E", message: "test", err: "whoops", values: [["k", "v"]] }))).toBe(
      `{"ts":1701462245325.123,"caller":"output.go:123","msg":"test","k":"v","err":"whoops"}`
    )
    expect(formatJson(entry({ severity: "E", message: "test", err: "whoops" }))).toBe(
      `{"ts":1701462245325.123,"caller":"output.go:123","msg":"test","err":"whoops"}`
    )
  })
  it("KObj as an object, numbers as numbers", () => {
    const values = [
      ["pod", kObj({ namespace: "kube-system", name: "pod-1" })],
      ["firstKey", 1]
    ] as const
    expect(formatJson(entry({ values }))).toBe(
      `{"ts":1701462245325.123,"caller":"output.go:123","msg":"test","v":0,` +
        `"pod":{"name":"pod-1","namespace":"kube-system"},"firstKey":1}`
    )
  })
  it("ts drops trailing zeros, like a float", () => {
    expect(formatJson(entry({ micros: 1701462245000000n }))).toMatch(/^\{"ts":1701462245000,/)
    expect(formatJson(entry({ micros: 1701462245100000n }))).toMatch(/^\{"ts":1701462245100,/)
    expect(formatJson(entry({ micros: 1701462245100100n }))).toMatch(/^\{"ts":1701462245100\.1,/)
  })
})

describe("logV", () => {
  it.effect("-v=5: logV(5) logs, logV(6) does not", () =>
    Effect.gen(function* () {
      const { stderr, stdout } = yield* logsOf(["-v=5"], Effect.andThen(logV(5, "five"), logV(6, "six")))
      expect(stderr).toEqual([`I1201 20:24:05.325000 ${PID} driver] "five"`])
      expect(stdout).toEqual([]) // klog writes to stderr; stdout stays free
    })
  )

  it.effect("without -v only level 0 logs", () =>
    Effect.gen(function* () {
      const { stderr } = yield* logsOf([], Effect.andThen(logV(0, "always"), logV(1, "detail")))
      expect(stderr).toEqual([`I1201 20:24:05.325000 ${PID} driver] "always"`])
    })
  )

  it.effect("logDebug is V(4): hidden at -v=3, shown at -v=4", () =>
    Effect.gen(function* () {
      const hidden = yield* logsOf(["-v=3"], Effect.logDebug("debug"))
      expect(hidden.stderr).toEqual([])
      const shown = yield* logsOf(["-v=4", "--log-format-json"], Effect.logDebug("debug"))
      expect(shown.stderr.map((l) => JSON.parse(l) as unknown)).toEqual([
        { ts: 1701462245325, caller: "driver", msg: "debug", v: 4 }
      ])
    })
  )

  it.effect("Verbosity defaults to 0 without the layer", () => Effect.map(Verbosity, (v) => expect(v).toBe(0)))
})

describe("Effect entries as klog lines", () => {
  it.effect("text: record messages and annotations become keys; the location is the annotation, no fiber id", () =>
    Effect.gen(function* () {
      const { stderr } = yield* logsOf(
        [],
        Effect.logInfo("NodePublishVolume", {
          pod: kObj({ namespace: "default", name: "app-0" }),
          durationMs: 4.2
        }).pipe(Effect.annotateLogs({ [LOCATION_KEY]: "Publisher", provider: "vault" }))
      )
      expect(stderr).toEqual([
        `I1201 20:24:05.325000 ${PID} Publisher] "NodePublishVolume" pod="default/app-0" durationMs=4.2 ` +
          `provider="vault"`
      ])
      expect(stderr[0]).not.toContain("fiber")
    })
  )

  it.effect("json: a warning with an error key and a span as the caller", () =>
    Effect.gen(function* () {
      const { stderr } = yield* logsOf(
        ["--log-format-json", "-v=2"],
        Effect.logWarning("publish failed", { error: "boom", target: "/t" }).pipe(Effect.withSpan("Publisher.publish"))
      )
      expect(stderr.map((l) => JSON.parse(l) as unknown)).toEqual([
        { ts: 1701462245325, caller: "Publisher.publish", msg: "publish failed", v: 0, err: "boom", target: "/t" }
      ])
    })
  )

  it.effect("an error with a cause: E line, err is the cause, one JSON line however many lines it has", () =>
    Effect.gen(function* () {
      const { stderr } = yield* logsOf(["--log-format-json"], Effect.logError("defect in X", new Error("multi\nline")))
      expect(stderr).toHaveLength(1)
      const line = JSON.parse(stderr[0] ?? "") as Record<string, unknown>
      expect(line).toMatchObject({ msg: "defect in X", caller: "driver" })
      expect(String(line["err"])).toContain("multi\nline")
      expect(line).not.toHaveProperty("v")
    })
  )
})
