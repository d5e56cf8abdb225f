// --enable-pprof on the built driver: the logged 127.0.0.1 address answers a CPU profile and a heap snapshot, has
// no inspector endpoint, survives hostile requests; without the flag nothing listens on --pprof-port.
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { eventually } from "../support/ChildProcess.js"
import { freePort } from "../support/Inspector.js"
import { rawExchange, statusesOf } from "../support/RawHttp.js"
import { startStressNode, type StressNode } from "../support/StressHarness.js"

const connects = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.once("connect", () => (socket.destroy(), resolve(true)))
    socket.once("error", () => resolve(false))
  })

let node: StressNode
let port: number

beforeAll(async () => {
  port = await freePort()
  node = await startStressNode({ driverArgs: ["--enable-pprof", `--pprof-port=${port}`] })
  const logged = `"pprof server listening" address="127.0.0.1:${port}"`
  await eventually(() => expect(node.driver().output()).toContain(logged), 30_000)
}, 60_000)

afterAll(async () => {
  await node?.close()
}, 60_000)

const get = async (path: string) => {
  const response = await fetch(`http://127.0.0.1:${port}${path}`)
  return { status: response.status, body: await response.text() }
}

describe("--enable-pprof (built driver)", () => {
  it("answers a CPU profile and a heap snapshot; /json/list (the inspector's) is 404", async () => {
    const cpu = await get("/debug/pprof/profile?seconds=1")
    expect(cpu.status).toBe(200)
    expect((JSON.parse(cpu.body) as { nodes: Array<unknown> }).nodes.length).toBeGreaterThan(0)
    const heap = await get("/debug/pprof/heap")
    expect(heap.status).toBe(200)
    expect((JSON.parse(heap.body) as { snapshot: { node_count: number } }).snapshot.node_count).toBeGreaterThan(0)
    expect((await get("/json/list")).status).toBe(404)
    expect(node.driver().output()).not.toContain("Debugger listening")
  }, 60_000)

  it("hostile requests get a 4xx or a closed connection and the driver lives", async () => {
    const requests = [
      "GET // HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /debug/pprof/profile?seconds=%zz HTTP/1.1\r\nHost: x\r\n\r\n",
      `GET /${"a".repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      "BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /debug/pprof/heap\r\n\r\n",
      "\u0000\u0001\u0002garbage\r\n\r\n"
    ]
    for (const request of requests) {
      const { closed, data } = await rawExchange(port, request, { timeoutMs: 50_000 })
      expect(closed).toBe(true)
      expect(statusesOf(data).filter((status) => status < 400 || status >= 500)).toEqual([])
      expect(node.driver().child.exitCode).toBeNull()
    }
    expect((await get("/debug/pprof/profile?seconds=1")).status).toBe(200)
  }, 60_000)

  it("without the flag nothing listens on --pprof-port", async () => {
    const other = await freePort()
    const plain = await startStressNode({ driverArgs: [`--pprof-port=${other}`] })
    try {
      expect(plain.driver().output()).not.toContain("pprof server listening")
      expect(await connects(other)).toBe(false)
    } finally {
      await plain.close()
    }
  }, 60_000)
})
