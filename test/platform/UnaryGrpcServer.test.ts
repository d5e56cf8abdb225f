// The unary gRPC server on its own listener: the statuses each kind of failure gets, metadata both ways,
// cancellation reaching the handler's signal, TCP as well as unix sockets, and a drain that waits for calls.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ClientError, createChannel, createClient, Metadata, ServerError, Status } from "nice-grpc"
import { IdentityDefinition, type IdentityServiceImplementation } from "../../src/gen/csi/v1/csi.js"
import { createUnaryGrpcServer, type UnaryGrpcServer } from "../../src/platform/UnaryGrpcServer.js"

const tempSocket = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "unary-")), "s.sock")

const failure = async (promise: Promise<unknown>) => {
  try {
    await promise
  } catch (error) {
    if (error instanceof ClientError) return { code: error.code, details: error.details }
    throw error
  }
  return { code: Status.OK, details: "" }
}

type Implementation = Partial<IdentityServiceImplementation>

const serve = async (implementation: Implementation, address?: { readonly host: string; readonly port: number }) => {
  const server: UnaryGrpcServer = createUnaryGrpcServer()
  const unanswered = async () => {
    throw new ServerError(Status.UNIMPLEMENTED, "not here")
  }
  server.add(IdentityDefinition, {
    getPluginInfo: unanswered,
    getPluginCapabilities: unanswered,
    probe: unanswered,
    ...implementation
  })
  const socket = tempSocket()
  const port = await server.listen(address ?? { path: socket })
  const channel = createChannel(address ? `${address.host}:${port}` : `unix://${socket}`)
  return { server, port, client: createClient(IdentityDefinition, channel), close: () => channel.close() }
}

describe("UnaryGrpcServer", () => {
  it("answers a ServerError with its code, an AbortError with CANCELLED and anything else with UNKNOWN", async () => {
    const { server, client, close } = await serve({
      probe: async () => {
        throw new ServerError(Status.NOT_FOUND, "no such thing")
      },
      getPluginCapabilities: async () => {
        throw Object.assign(new Error("aborted"), { name: "AbortError" })
      },
      getPluginInfo: async () => {
        throw new Error("a bug")
      }
    })
    expect(await failure(client.probe({}))).toEqual({ code: Status.NOT_FOUND, details: "no such thing" })
    expect(await failure(client.getPluginCapabilities({}))).toEqual({
      code: Status.CANCELLED,
      details: "The operation was cancelled"
    })
    expect(await failure(client.getPluginInfo({}))).toEqual({
      code: Status.UNKNOWN,
      details: "Unknown server error occurred"
    })
    close()
    await server.shutdown()
  })

  it("passes request metadata in and header and trailer metadata out; serves on TCP too", async () => {
    const { server, port, client, close } = await serve(
      {
        probe: async (_request, context) => {
          context.header.set("x-seen", context.metadata.get("x-asked") ?? "none")
          context.trailer.set("x-done", "yes")
          return { ready: true }
        }
      },
      { host: "127.0.0.1", port: 0 }
    )
    expect(port).toBeGreaterThan(0)
    let header: Metadata | undefined
    let trailer: Metadata | undefined
    const reply = await client.probe(
      {},
      {
        metadata: Metadata({ "x-asked": "hello" }),
        onHeader: (h) => {
          header = h
        },
        onTrailer: (t) => {
          trailer = t
        }
      }
    )
    expect(reply.ready).toBe(true)
    expect(header?.get("x-seen")).toBe("hello")
    expect(trailer?.get("x-done")).toBe("yes")
    close()
    await server.shutdown()
  })

  it("a client's cancel aborts the handler's signal; shutdown waits for a call still running", async () => {
    const seen: Array<string> = []
    let release: () => void = () => {}
    const { server, client, close } = await serve({
      probe: (_request, { signal }) =>
        new Promise((resolve) => {
          seen.push("probe")
          signal.addEventListener("abort", () => {
            seen.push("aborted")
            resolve({ ready: false })
          })
        }),
      getPluginCapabilities: () =>
        new Promise((resolve) => {
          seen.push("capabilities")
          release = () => resolve({ capabilities: [] })
        })
    })
    const controller = new AbortController()
    const cancelled = client.probe({}, { signal: controller.signal }).catch(() => "cancelled")
    await expect.poll(() => seen.includes("probe"), { timeout: 10_000 }).toBe(true)
    controller.abort()
    expect(await cancelled).toBe("cancelled")
    await expect.poll(() => seen.includes("aborted"), { timeout: 10_000 }).toBe(true)

    const running = client.getPluginCapabilities({})
    await expect.poll(() => seen.includes("capabilities"), { timeout: 10_000 }).toBe(true)
    let drained = false
    const draining = server.shutdown().then(() => {
      drained = true
    })
    // Nothing to wait on for "not yet": give the drain a moment to (wrongly) finish early.
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(drained).toBe(false)
    release()
    expect((await running).capabilities).toEqual([])
    await draining
    close()
  })
})
