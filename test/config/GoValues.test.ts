// Go value syntaxes against the answers Go's own parsers give (time.ParseDuration, strconv, net.SplitHostPort).
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import {
  formatGoDuration,
  formatHostPort,
  parseGoBool,
  parseGoDuration,
  parseGoInt,
  parseHostPort
} from "../../src/config/GoValues.js"

const MS = 1_000_000n
const S = 1_000n * MS

describe("parseGoDuration", () => {
  it.each([
    ["300ms", 300n * MS],
    ["30s", 30n * S],
    ["2m", 120n * S],
    ["1h30m", 5_400n * S],
    ["1.5h", 5_400n * S],
    ["1h2m3.5s", 3_723_500n * MS],
    ["0", 0n],
    ["0s", 0n],
    ["+5s", 5n * S],
    ["-1s", -S],
    [".5s", 500n * MS],
    ["1.s", S],
    ["100ns", 100n],
    ["1us", 1_000n],
    ["1µs", 1_000n],
    ["1μs", 1_000n],
    ["2562047h", 2_562_047n * 3_600n * S]
  ] as const)("%s", (text, nanos) => {
    expect(parseGoDuration(text)).toBe(nanos)
  })

  it.each(["", "5", "1d", "s", ".s", "-", "1.5.5s", "abc", "1h ", " 1h", "1H", "2562048h"])("rejects %j", (text) => {
    expect(parseGoDuration(text)).toBeUndefined()
  })
})

describe("formatGoDuration", () => {
  it.each([
    [0n, "0s"],
    [120n * S, "2m0s"],
    [30n * S, "30s"],
    [5_400n * S, "1h30m0s"],
    [3_723_500n * MS, "1h2m3.5s"],
    [300n * MS, "300ms"],
    [1_500n, "1.5µs"],
    [7n, "7ns"],
    [-2n * S, "-2s"]
  ] as const)("%s ns is %s", (nanos, text) => {
    expect(formatGoDuration(Duration.nanos(nanos))).toBe(text)
    expect(parseGoDuration(text)).toBe(nanos)
  })
})

describe("parseGoBool", () => {
  it.each(["1", "t", "T", "TRUE", "true", "True"])("%s is true", (text) => expect(parseGoBool(text)).toBe(true))
  it.each(["0", "f", "F", "FALSE", "false", "False"])("%s is false", (text) => expect(parseGoBool(text)).toBe(false))
  it.each(["", "yes", "on", "tRUE", " true"])("rejects %j", (text) => expect(parseGoBool(text)).toBeUndefined())
})

describe("parseGoInt", () => {
  it.each([
    ["4194304", 4_194_304],
    ["-3", -3],
    ["+7", 7],
    ["0", 0],
    ["0x10", 16],
    ["0o17", 15],
    ["017", 15],
    ["0b101", 5]
  ] as const)("%s", (text, value) => expect(parseGoInt(text)).toBe(value))
  it.each(["", "abc", "1.5", "4MiB", "08", "9007199254740993", " 1"])("rejects %j", (text) => {
    expect(parseGoInt(text)).toBeUndefined()
  })
})

describe("parseHostPort", () => {
  it.each([
    [":8095", { host: "", port: 8095 }],
    ["0.0.0.0:8095", { host: "0.0.0.0", port: 8095 }],
    ["localhost:0", { host: "localhost", port: 0 }],
    ["[::1]:9000", { host: "::1", port: 9000 }],
    ["[::]:8095", { host: "::", port: 8095 }]
  ] as const)("%s", (text, expected) => {
    expect(parseHostPort(text)).toEqual(expected)
    expect(formatHostPort(expected)).toBe(text)
  })
  it.each(["8095", "", ":", "host:", ":65536", "::1:80", "host:http", "a:b:1"])("rejects %j", (text) => {
    expect(parseHostPort(text)).toBeUndefined()
  })
})
