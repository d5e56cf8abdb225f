// Shutdown with calls still running: the server's close cancels them after the drain timeout and returns only
// once their cleanup (finalizers) ran, bounded by the cleanup timeout; calls that ended normally are untouched.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { ClientError, Status } from "nice-grpc"
import { InFlightHandlers, makeHandlerRunner } from "../../src/csi/HandlerRunner.js"
import { Publisher } from "../../src/publish/Publisher.js"
import { connectCsi, publishRequest } from "../support/CsiClient.js"
import { idleReport, startCsiServer } from "../support/CsiServer.js"

const tempSocket = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "csi-")), "csi.sock")

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => Status.OK,
    (error: unknown) => (error instanceof ClientError ? error.code : Status.UNKNOWN)
  )

/** A publish that runs until cancelled, with a cleanup that takes a while (like a tmpfs rollback) and records it. */
const slowCleanupPublisher = (cleanup: Effect.Effect<void>) => {
  const log: Array<string> = []
  const publisher = Layer.succeed(Publisher, {
    publish: () =>
      Effect.sync(() => log.push("started")).pipe(
        Effect.andThen(Effect.never),
        Effect.onExit(() => cleanup.pipe(Effect.andThen(Effect.sync(() => log.push("cleaned up")))))
      ),
    unpublish: () => Effect.sync(() => void log.push("unpublished"))
  })
  return { log, layer: Layer.merge(publisher, idleReport) }
}

const waitFor = (check: () => boolean) =>
  Effect.gen(function* () {
    while (!check()) yield* Effect.sleep("5 millis")
  }).pipe(Effect.timeout("20 seconds"))

describe("CSI server shutdown with calls in flight", () => {
  it.live(
    "closing the scope returns only after a cancelled publish's cleanup ran",
    () =>
      Effect.gen(function* () {
        const socket = tempSocket()
        const publisher = slowCleanupPublisher(Effect.sleep("300 millis"))
        const scope = yield* startCsiServer(socket, publisher.layer, { drainTimeout: "100 millis" })
        const csi = connectCsi(socket)
        const call = codeOf(csi.node.nodePublishVolume(publishRequest()))
        yield* waitFor(() => publisher.log.includes("started"))
        yield* Scope.close(scope, Exit.void)
        expect(publisher.log).toEqual(["started", "cleaned up"])
        expect(yield* Effect.promise(() => call)).not.toBe(Status.OK)
        expect(fs.existsSync(socket)).toBe(false)
        csi.close()
      }),
    30_000
  )

  it.live(
    "a call kubelet already cancelled, still cleaning up, is waited for too (gRPC has nothing to drain)",
    () =>
      Effect.gen(function* () {
        const socket = tempSocket()
        const publisher = slowCleanupPublisher(Effect.sleep("300 millis"))
        const scope = yield* startCsiServer(socket, publisher.layer)
        const csi = connectCsi(socket)
        const abort = new AbortController()
        const call = codeOf(csi.node.nodePublishVolume(publishRequest(), { signal: abort.signal })).catch(
          () => Status.CANCELLED
        )
        yield* waitFor(() => publisher.log.includes("started"))
        abort.abort()
        yield* Effect.promise(() => call)
        yield* Scope.close(scope, Exit.void)
        expect(publisher.log).toEqual(["started", "cleaned up"])
        csi.close()
      }),
    30_000
  )

  it.live(
    "a cleanup that hangs delays the close only by the cleanup timeout",
    () =>
      Effect.gen(function* () {
        const socket = tempSocket()
        const publisher = slowCleanupPublisher(Effect.never)
        const timeouts = { drainTimeout: "100 millis", cleanupTimeout: "200 millis" } as const
        const scope = yield* startCsiServer(socket, publisher.layer, timeouts)
        const csi = connectCsi(socket)
        const call = codeOf(csi.node.nodePublishVolume(publishRequest()))
        yield* waitFor(() => publisher.log.includes("started"))
        const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
        const closed = yield* Fiber.await(closing).pipe(Effect.timeout("20 seconds"))
        expect(Exit.isSuccess(closed)).toBe(true)
        expect(publisher.log).toEqual(["started"])
        expect(fs.existsSync(socket)).toBe(false)
        csi.close()
        void call
      }),
    30_000
  )

  it.live(
    "calls that ended normally leave nothing behind for shutdown to wait for",
    () =>
      Effect.gen(function* () {
        const socket = tempSocket()
        const publisher = slowCleanupPublisher(Effect.never)
        const timeouts = { drainTimeout: "100 millis", cleanupTimeout: "1 hour" } as const
        const scope = yield* startCsiServer(socket, publisher.layer, timeouts)
        const csi = connectCsi(socket)
        const codes = yield* Effect.promise(() =>
          Promise.all(
            [1, 2, 3].map(() =>
              codeOf(csi.node.nodeUnpublishVolume({ volumeId: "v", targetPath: publishRequest().targetPath }))
            )
          )
        )
        expect(codes).toEqual([Status.OK, Status.OK, Status.OK])
        // With an hour of cleanup timeout, a call wrongly still counted as in flight would hang this close.
        yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("20 seconds"))
        expect(publisher.log).toEqual(["unpublished", "unpublished", "unpublished"])
        csi.close()
      }),
    30_000
  )
})

describe("HandlerRunner", () => {
  it.live("tracks a call while it runs; a cancelled call settles after its finalizer, then is untracked", () =>
    Effect.gen(function* () {
      const handlers: InFlightHandlers["Service"] = new Set()
      const run = yield* makeHandlerRunner.pipe(Effect.provideService(InFlightHandlers, handlers))
      expect(yield* Effect.promise(() => run("Quick", Effect.succeed(7), new AbortController().signal))).toBe(7)
      expect(handlers.size).toBe(0)
      const log: Array<string> = []
      const abort = new AbortController()
      const slow = Effect.never.pipe(
        Effect.onInterrupt(() =>
          Effect.sleep("100 millis").pipe(Effect.andThen(Effect.sync(() => log.push("finalized"))))
        )
      )
      const settled = run("Slow", slow, abort.signal).then(
        () => "resolved",
        (error: unknown) => {
          log.push("rejected")
          return error instanceof Error ? error.message : String(error)
        }
      )
      expect(handlers.size).toBe(1)
      abort.abort()
      expect(yield* Effect.promise(() => settled)).toContain("Slow was cancelled")
      expect(log).toEqual(["finalized", "rejected"])
      expect(handlers.size).toBe(0)
    })
  )
})
