// --enable-pprof as a read-only profiling server on loopback: a real CPU profile and heap snapshot over HTTP, one
// profile at a time, `seconds` bounded, every other path 404, no inspector port or WebSocket endpoint, and
// nothing listening without the flag.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as inspector from "node:inspector"
import * as net from "node:net"
import { HEAP_PATH, Pprof, profileSeconds, PROFILE_PATH } from "../../src/config/Pprof.js"
import { eventually } from "../support/ChildProcess.js"
import { freePort } from "../support/Inspector.js"
import { rawExchange, statusesOf } from "../support/RawHttp.js"

/** A TCP server on a kernel-chosen loopback port, closed with the test's scope. */
const listeningServer = Effect.acquireRelease(
  Effect.callback<net.Server>((resume) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
)

const connects = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.once("connect", () => (socket.destroy(), resume(Effect.succeed(true))))
    socket.once("error", () => resume(Effect.succeed(false)))
  })

const get = (port: number, path: string, init: RequestInit = {}) =>
  fetch(`http://127.0.0.1:${port}${path}`, init).then(async (response) => ({
    status: response.status,
    headers: response.headers,
    body: await response.text()
  }))

/** The pprof layer on a free port, for the test's scope. */
const pprof = Effect.gen(function* () {
  const port = yield* Effect.promise(freePort)
  yield* Layer.build(Pprof.layer({ enablePprof: true, pprofPort: port }))
  return port
})

describe("Pprof.layer", () => {
  it.live("serves a CPU profile and a heap snapshot as files DevTools opens, and no inspector endpoint", () =>
    Effect.gen(function* () {
      const port = yield* pprof
      const cpu = yield* Effect.promise(() => get(port, `${PROFILE_PATH}?seconds=1`))
      expect(cpu.status).toBe(200)
      expect(cpu.headers.get("content-disposition")).toBe('attachment; filename="cpu.cpuprofile"')
      const profile = JSON.parse(cpu.body) as { nodes: Array<unknown>; startTime: number; endTime: number }
      expect(profile.nodes.length).toBeGreaterThan(0)
      expect(profile.endTime - profile.startTime).toBeGreaterThanOrEqual(1_000_000)
      const heap = yield* Effect.promise(() => get(port, HEAP_PATH))
      expect(heap.status).toBe(200)
      expect(heap.headers.get("content-disposition")).toBe('attachment; filename="heap.heapsnapshot"')
      const snapshot = JSON.parse(heap.body) as { snapshot: { node_count: number }; nodes: Array<number> }
      expect(snapshot.snapshot.node_count).toBeGreaterThan(0)
      for (const path of ["/json/list", "/json", "/json/version", "/", "/debug/pprof/", "/debug/pprof/goroutine"]) {
        expect((yield* Effect.promise(() => get(port, path))).status, path).toBe(404)
      }
      const upgrade =
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
      expect(statusesOf((yield* Effect.promise(() => rawExchange(port, upgrade))).data)).toEqual([404])
      expect((yield* Effect.promise(() => get(port, PROFILE_PATH, { method: "POST", body: "x" }))).status).toBe(404)
      expect(inspector.url()).toBeUndefined()
    })
  )

  it.live("takes one profile at a time: a concurrent one gets 409", () =>
    Effect.gen(function* () {
      const port = yield* pprof
      const statuses = yield* Effect.promise(() =>
        Promise.all([get(port, `${PROFILE_PATH}?seconds=3`), get(port, `${PROFILE_PATH}?seconds=3`)])
      )
      expect(statuses.map((s) => s.status).sort()).toEqual([200, 409])
    })
  )

  it.live("a client that leaves mid-profile frees the profiler", () =>
    Effect.gen(function* () {
      const port = yield* pprof
      const leaving = new AbortController()
      const abandoned = get(port, `${PROFILE_PATH}?seconds=60`, { signal: leaving.signal }).catch(() => "aborted")
      const heapAnswers = (status: number) =>
        Effect.promise(() =>
          eventually(async () => expect((await get(port, HEAP_PATH)).status).toBe(status), 30_000, 20)
        )
      yield* heapAnswers(409)
      leaving.abort()
      expect(yield* Effect.promise(() => abandoned)).toBe("aborted")
      yield* heapAnswers(200)
    })
  )

  it.live("answers 400 for a seconds value out of bounds or not a whole number", () =>
    Effect.gen(function* () {
      const port = yield* pprof
      for (const seconds of ["0", "61", "-1", "1.5", "abc", "1e1", "%zz", "9999999999999"]) {
        const answer = yield* Effect.promise(() => get(port, `${PROFILE_PATH}?seconds=${seconds}`))
        expect([answer.status, answer.body], seconds).toEqual([400, "seconds must be a whole number from 1 to 60\n"])
      }
    })
  )

  it("reads seconds like Go: absent or empty is 30", () => {
    expect(profileSeconds(null)).toEqual({ seconds: 30 })
    expect(profileSeconds("")).toEqual({ seconds: 30 })
    expect(profileSeconds("60")).toEqual({ seconds: 60 })
    expect(profileSeconds("1")).toEqual({ seconds: 1 })
  })

  it.live("without --enable-pprof nothing listens", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(freePort)
      yield* Layer.build(Pprof.layer({ enablePprof: false, pprofPort: port }))
      expect(yield* connects(port)).toBe(false)
      expect(inspector.url()).toBeUndefined()
    })
  )

  it.live("a busy port is a PprofError", () =>
    Effect.gen(function* () {
      const busy = ((yield* listeningServer).address() as net.AddressInfo).port
      const error = yield* Effect.flip(Effect.scoped(Layer.build(Pprof.layer({ enablePprof: true, pprofPort: busy }))))
      expect(error._tag).toBe("PprofError")
      expect(error.message).toBe(`cannot listen on 127.0.0.1:${busy} for --enable-pprof`)
    })
  )
})
