// --enable-pprof as the Node inspector: really listening on loopback while the layer lives, closed after.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as inspector from "node:inspector"
import * as net from "node:net"
import { pprofLayer } from "../../src/config/Pprof.js"

/** A TCP server on a kernel-chosen loopback port, closed with the test's scope. */
const listeningServer = Effect.acquireRelease(
  Effect.callback<net.Server>((resume) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
)

const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port

/** A port that was free a moment ago. */
const freePort = Effect.scoped(Effect.map(listeningServer, portOf))

const connects = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.once("connect", () => (socket.destroy(), resume(Effect.succeed(true))))
    socket.once("error", () => resume(Effect.succeed(false)))
  })

describe("pprofLayer", () => {
  it.live("opens the inspector on 127.0.0.1:--pprof-port and closes it on shutdown", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(pprofLayer({ enablePprof: true, pprofPort: port }))
        expect(inspector.url()).toContain(`ws://127.0.0.1:${port}/`)
        expect(yield* connects(port)).toBe(true)
      }))
      expect(inspector.url()).toBeUndefined()
      expect(yield* connects(port)).toBe(false)
    }))

  it.live("without --enable-pprof nothing listens", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      yield* Effect.scoped(Layer.build(pprofLayer({ enablePprof: false, pprofPort: port })))
      expect(inspector.url()).toBeUndefined()
      expect(yield* connects(port)).toBe(false)
    }))

  it.live("a busy port is an InspectorError, not a silent no-op", () =>
    Effect.gen(function*() {
      const busy = portOf(yield* listeningServer)
      const error = yield* Effect.flip(Effect.scoped(Layer.build(pprofLayer({ enablePprof: true, pprofPort: busy }))))
      expect(error._tag).toBe("InspectorError")
      expect(error.message).toBe(`cannot open the inspector on 127.0.0.1:${busy} for --enable-pprof`)
      expect(inspector.url()).toBeUndefined()
    }))
})
