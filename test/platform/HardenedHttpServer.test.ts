// The request-target rule of the hardened HTTP server: origin and absolute forms give a path and query, anything
// else is undefined (a 400), and no input throws (the old `new URL(target, base)` threw on "//").
import { describe, expect, it } from "@effect/vitest"
import { requestTarget } from "../../src/platform/HardenedHttpServer.js"

const cases: ReadonlyArray<readonly [string, string | undefined, Record<string, string>?]> = [
  ["/metrics", "/metrics"],
  ["/readyz?verbose", "/readyz", { verbose: "" }],
  ["/debug/pprof/profile?seconds=5&x=%zz", "/debug/pprof/profile", { seconds: "5", x: "%zz" }],
  ["//", "//"],
  ["//x", "//x"],
  ["/%zz", "/%zz"],
  ["/a#frag?b=c", "/a"],
  ["http://a/", "/"],
  ["http://a", "/"],
  ["http://a?x=1", "/", { x: "1" }],
  ["HTTP://a:1/metrics?y", "/metrics", { y: "" }],
  ["http://", "/"],
  ["*", undefined],
  ["%zz", undefined],
  ["a:1", undefined],
  ["", undefined],
  ["metrics", undefined]
]

describe("requestTarget", () => {
  for (const [target, path, query] of cases) {
    it(JSON.stringify(target), () => {
      const parsed = requestTarget(target)
      expect(parsed?.path).toBe(path)
      if (query !== undefined) expect(Object.fromEntries(parsed!.query)).toEqual(query)
    })
  }

  it("never throws, whatever the bytes", () => {
    for (let i = 0; i < 2_000; i++) {
      const bytes = Array.from({ length: i % 40 }, (_, j) => String.fromCharCode((i * 31 + j * 17) % 256)).join("")
      expect(() => requestTarget(bytes)).not.toThrow()
      expect(() => requestTarget(`/${bytes}`)).not.toThrow()
    }
  })
})
