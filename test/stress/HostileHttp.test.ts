// Hostile HTTP against the built driver's metrics port: a table of raw requests (bad targets, oversized and
// too many headers, slow headers and bodies, unknown methods, garbage, HTTP/0.9, pipelining, smuggling shapes).
// Each gets a 4xx or a closed connection, never a 5xx; after each the process is alive and /metrics answers 200.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { eventually } from "../support/ChildProcess.js"
import { rawExchange, statusesOf } from "../support/RawHttp.js"
import { startStressNode, type StressNode } from "../support/StressHarness.js"

const get = (target: string, headers = "") => `GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`

interface Case {
  readonly name: string
  readonly bytes: string | Buffer
  /** Half-close after writing (default); false keeps writing nothing more, like a slow client. */
  readonly end?: boolean
  /** The first status expected, when the answer is known; otherwise any 4xx or none. */
  readonly status?: number
}

const cases: ReadonlyArray<Case> = [
  { name: "GET //", bytes: get("//"), status: 404 },
  { name: "GET //x", bytes: get("//x"), status: 404 },
  { name: "GET http://a/ (absolute form)", bytes: get("http://a/"), status: 404 },
  { name: "GET http://a (absolute form, no path)", bytes: get("http://a"), status: 404 },
  { name: "GET http:// (absolute form, empty)", bytes: get("http://"), status: 404 },
  { name: "GET *", bytes: get("*"), status: 400 },
  { name: "OPTIONS *", bytes: "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", status: 400 },
  { name: "GET %zz", bytes: get("%zz"), status: 400 },
  { name: "GET /%zz", bytes: get("/%zz"), status: 404 },
  { name: "GET /metrics%zz?%zz=%zz&%", bytes: get("/metrics%zz?%zz=%zz&%"), status: 404 },
  { name: "GET /../../etc/passwd", bytes: get("/../../etc/passwd"), status: 404 },
  { name: "GET with a fragment", bytes: get("/x#//?a"), status: 404 },
  { name: "non-ASCII bytes in the target", bytes: get("/\u00ff\u00fe"), status: 400 },
  { name: "a 100 KiB URL", bytes: get(`/${"a".repeat(100 * 1024)}`) },
  { name: "a 100 KiB header", bytes: get("/metrics", `X-Big: ${"b".repeat(100 * 1024)}\r\n`) },
  { name: "2,000 headers", bytes: get("/metrics", "a: b\r\n".repeat(2_000)) },
  { name: "200 small headers", bytes: get("/metrics", "a: b\r\n".repeat(200)), status: 431 },
  { name: "60 headers on a bad path", bytes: get("/nope", "a: b\r\n".repeat(60)), status: 404 },
  { name: "an unknown method", bytes: "BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n", status: 400 },
  {
    name: "POST to /metrics with a body",
    bytes: "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    status: 404
  },
  { name: "DELETE /healthz", bytes: "DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", status: 404 },
  {
    name: "garbage bytes",
    bytes: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)),
    status: 400
  },
  { name: "NUL bytes", bytes: Buffer.alloc(1024), status: 400 },
  { name: "HTTP/0.9", bytes: "GET /metrics\r\n\r\n", status: 400 },
  { name: "HTTP/0.9 GET //", bytes: "GET //\r\n\r\n", status: 400 },
  { name: "HTTP/2.0 on HTTP/1", bytes: "GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", status: 400 },
  { name: "HTTP/1.0 GET //", bytes: "GET // HTTP/1.0\r\n\r\n", status: 404 },
  { name: "the HTTP/2 preface", bytes: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" },
  { name: "no Host header", bytes: "GET /metrics HTTP/1.1\r\n\r\n", status: 400 },
  { name: "a NUL in the target", bytes: get("/\u0000"), status: 400 },
  { name: "a bad header line", bytes: get("/metrics", "no colon here\r\n"), status: 400 },
  { name: "a bad Content-Length", bytes: get("/metrics", "Content-Length: abc\r\n"), status: 400 },
  {
    name: "Content-Length and chunked",
    bytes: `${get("/", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")}0\r\n\r\n`,
    status: 400
  },
  {
    name: "a bad chunk",
    bytes: "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    status: 404
  },
  { name: "an upgrade to websocket", bytes: get("/x", "Upgrade: websocket\r\nConnection: Upgrade\r\n"), status: 404 },
  { name: "CONNECT", bytes: "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n" },
  { name: "three pipelined bad requests", bytes: get("//") + get("*") + get("/x"), status: 404 },
  { name: "1,000 pipelined requests", bytes: get("//").repeat(1_000), status: 404 },
  {
    name: "a slow body (1 of 1,000,000 bytes, then silence)",
    bytes: "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\na",
    end: false,
    status: 404
  },
  {
    name: "a GET with a 1 TB body announced",
    bytes: `${get("/x", "Content-Length: 1000000000000\r\n")}a`,
    end: false,
    status: 404
  },
  {
    name: "slow headers (slowloris: a request line, then silence)",
    bytes: "GET /metrics HTTP/1.1\r\nHost: x\r\nX-A:",
    end: false
  },
  { name: "a connection that sends nothing", bytes: "", end: false },
  { name: "a connection closed at once", bytes: "" }
]

let node: StressNode
let port: number

beforeAll(async () => {
  node = await startStressNode()
  port = Number(
    await eventually(() => {
      const match = /metrics server listening.*127\.0\.0\.1:(\d+)/.exec(node.driver().output())
      if (match === null) throw new Error("no metrics address logged yet")
      return match[1]
    }, 30_000)
  )
}, 60_000)

afterAll(async () => {
  await node?.close()
}, 60_000)

const metricsAnswers = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).status

describe("hostile HTTP on the metrics port (built driver)", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const exchange = rawExchange(port, c.bytes, { end: c.end ?? true, timeoutMs: 50_000 })
      // A slow client holding its connection must not hold up a scrape.
      if (c.end === false) expect(await metricsAnswers()).toBe(200)
      const { closed, data } = await exchange
      const statuses = statusesOf(data)
      expect(closed, "the server closes the connection itself").toBe(true)
      if (c.status !== undefined) expect(statuses[0]).toBe(c.status)
      expect(statuses.filter((status) => status < 400 || status >= 500)).toEqual([])
      expect(node.driver().child.exitCode).toBeNull()
      expect(await metricsAnswers()).toBe(200)
    }, 60_000)
  }
})
