// klog-style verbosity and the two line formats, captured from the console the loggers really write to.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { TestConsole } from "effect/testing"
import { Logging, logV, Verbosity } from "../../src/config/Logging.js"
import { parseDriverArgs } from "../../src/config/parseDriverArgs.js"

/** Runs `body` under the logger that `argv` configures; returns what reached stderr and stdout. */
const logsOf = (argv: ReadonlyArray<string>, body: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const args = yield* parseDriverArgs(argv)
    if (args._tag !== "Run") return yield* Effect.die(`expected Run, got ${args._tag}`)
    yield* body.pipe(Effect.provide(Logging.layer(args.config)))
    return {
      stderr: (yield* TestConsole.errorLines).map(String),
      stdout: (yield* TestConsole.logLines).map(String)
    }
  }).pipe(Effect.provide(TestConsole.layer))

describe("logV", () => {
  it.effect("-v=5: logV(5) logs, logV(6) does not", () =>
    Effect.gen(function* () {
      const { stderr, stdout } = yield* logsOf(["-v=5"], Effect.andThen(logV(5, "five"), logV(6, "six")))
      expect(stderr).toHaveLength(1)
      expect(stderr[0]).toContain("message=five")
      expect(stderr[0]).toContain("v=5")
      expect(stdout).toEqual([]) // klog writes to stderr; stdout stays free
    })
  )

  it.effect("without -v only level 0 logs", () =>
    Effect.gen(function* () {
      const { stderr } = yield* logsOf([], Effect.andThen(logV(0, "always"), logV(1, "detail")))
      expect(stderr).toHaveLength(1)
      expect(stderr[0]).toContain("message=always")
    })
  )

  it.effect("Verbosity defaults to 0 without the layer", () => Effect.map(Verbosity, (v) => expect(v).toBe(0)))
})

describe("line formats", () => {
  it.effect("--log-format-json: every line is one JSON object", () =>
    Effect.gen(function* () {
      const { stderr } = yield* logsOf(
        ["--log-format-json", "-v=2"],
        Effect.gen(function* () {
          yield* logV(2, "mounted", { pod: "ns/web-0" })
          yield* Effect.logWarning("multi\nline")
        })
      )
      expect(stderr).toHaveLength(2)
      const [first, second] = stderr.map((line) => JSON.parse(line) as Record<string, unknown>)
      expect(first).toMatchObject({ message: "mounted", level: "INFO", annotations: { pod: "ns/web-0", v: 2 } })
      expect(second).toMatchObject({ message: "multi\nline", level: "WARN" })
      for (const line of stderr) expect(line).not.toContain("\n")
    })
  )

  it.effect("text: one readable line per entry, annotations included", () =>
    Effect.gen(function* () {
      const { stderr } = yield* logsOf([], logV(0, "two\nlines", { pod: "ns/web-0" }))
      expect(stderr).toHaveLength(1)
      expect(stderr[0]).not.toContain("\n")
      expect(stderr[0]).toMatch(/^timestamp=\S+ level=INFO .*message="two\\nlines".* pod=ns\/web-0/)
      expect(() => JSON.parse(stderr[0] ?? "")).toThrow()
    })
  )
})
