import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as grpc from "@grpc/grpc-js"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { ClientError, Status } from "nice-grpc"
import { NodeServiceCapability_RPC_Type } from "../../src/gen/csi/v1/csi.js"
import type { PublishRequest, UnpublishRequest } from "../../src/domain/PublishRequest.js"
import { Publisher } from "../../src/publish/Publisher.js"
import { PublishReport } from "../../src/publish/PublishReport.js"
import { connectCsi, publishRequest } from "../support/CsiClient.js"
import { startCsiServer } from "../support/CsiServer.js"

const tempSocket = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "csi-")), "csi.sock")

/** A publisher that records what reached it, and can be held mid-call. */
const recordingPublisher = (hold?: Deferred.Deferred<void>) => {
  const published: Array<PublishRequest> = []
  const unpublished: Array<UnpublishRequest> = []
  const rejected: Array<string> = []
  const publisher = Layer.succeed(Publisher, {
    publish: (request) =>
      Effect.sync(() => published.push(request)).pipe(Effect.andThen(hold ? Deferred.await(hold) : Effect.void)),
    unpublish: (request) => Effect.sync(() => void unpublished.push(request))
  })
  const report = Layer.succeed(PublishReport, {
    succeeded: () => Effect.void,
    failed: () => Effect.void,
    publishRejected: (_context, _target, failure) => Effect.sync(() => void rejected.push(failure.reason)),
    unpublishSucceeded: Effect.void,
    unpublishFailed: Effect.sync(() => void rejected.push("unpublish")),
    publishLogged: () => Effect.void,
    unpublishLogged: () => Effect.void,
    cacheServed: () => Effect.void
  })
  const layer = Layer.merge(publisher, report)
  return { published, unpublished, rejected, layer }
}

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise
  } catch (error) {
    if (error instanceof ClientError) return { code: error.code, details: error.details }
    throw error
  }
  return { code: Status.OK, details: "" }
}

describe("CSI gRPC server", () => {
  it.live("serves Identity and Node over a unix socket", () =>
    Effect.gen(function* () {
      const socket = tempSocket()
      const scope = yield* startCsiServer(socket, recordingPublisher().layer)
      const csi = connectCsi(socket)
      const info = yield* Effect.promise(() => csi.identity.getPluginInfo({}))
      expect(info).toEqual({ name: "secrets-store.csi.k8s.io", vendorVersion: "v9.9.9", manifest: {} })
      const caps = yield* Effect.promise(() => csi.identity.getPluginCapabilities({}))
      expect(caps.capabilities).toEqual([])
      const probe = yield* Effect.promise(() => csi.identity.probe({}))
      expect(probe.ready).toBe(true)
      const nodeInfo = yield* Effect.promise(() => csi.node.nodeGetInfo({}))
      expect(nodeInfo.nodeId).toBe("node-a")
      const nodeCaps = yield* Effect.promise(() => csi.node.nodeGetCapabilities({}))
      // VOLUME_MOUNT_GROUP and nothing else: no staging, no stats, no expansion, no volume condition.
      expect(nodeCaps.capabilities).toEqual([
        { type: { $case: "rpc", value: { type: NodeServiceCapability_RPC_Type.VOLUME_MOUNT_GROUP } } }
      ])
      csi.close()
      yield* Scope.close(scope, Exit.void)
      expect(fs.existsSync(socket)).toBe(false)
    })
  )

  it.live("removes a stale socket file before listening", () =>
    Effect.gen(function* () {
      const socket = tempSocket()
      fs.writeFileSync(socket, "left over by a crashed driver")
      const scope = yield* startCsiServer(socket, recordingPublisher().layer)
      const csi = connectCsi(socket)
      const probe = yield* Effect.promise(() => csi.identity.probe({}))
      expect(probe.ready).toBe(true)
      csi.close()
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.live("validates NodePublishVolume arguments in upstream's order", () =>
    Effect.gen(function* () {
      const socket = tempSocket()
      const publisher = recordingPublisher()
      const scope = yield* startCsiServer(socket, publisher.layer)
      const csi = connectCsi(socket)
      const cases = [
        [{ volumeCapability: undefined, volumeId: "" }, "Volume capability missing in request"],
        [{ volumeId: "", targetPath: "" }, "Volume ID missing in request"],
        [{ targetPath: "", volumeContext: {} }, "Target path missing in request"],
        [{ volumeContext: {} }, "Volume attributes missing in request"]
      ] as const
      for (const [overrides, message] of cases) {
        const result = yield* Effect.promise(() => codeOf(csi.node.nodePublishVolume(publishRequest(overrides))))
        expect(result).toEqual({ code: Status.INVALID_ARGUMENT, details: `InvalidRequest: ${message}` })
      }
      expect(publisher.published).toEqual([])
      expect(publisher.rejected).toEqual(["InvalidRequest", "InvalidRequest", "InvalidRequest", "InvalidRequest"])
      const ok = yield* Effect.promise(() =>
        codeOf(csi.node.nodePublishVolume(publishRequest({ secrets: { k: "v" } })))
      )
      expect(ok.code).toBe(Status.OK)
      assert.strictEqual(publisher.published.length, 1)
      expect(publisher.published[0]?.volumeContext["secretProviderClass"]).toBe("my-spc")
      csi.close()
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.live("validates NodeUnpublishVolume arguments", () =>
    Effect.gen(function* () {
      const socket = tempSocket()
      const publisher = recordingPublisher()
      const scope = yield* startCsiServer(socket, publisher.layer)
      const csi = connectCsi(socket)
      const noId = yield* Effect.promise(() => codeOf(csi.node.nodeUnpublishVolume({ volumeId: "", targetPath: "/t" })))
      expect(noId).toEqual({ code: Status.INVALID_ARGUMENT, details: "InvalidRequest: Volume ID missing in request" })
      const noTarget = yield* Effect.promise(() =>
        codeOf(csi.node.nodeUnpublishVolume({ volumeId: "v", targetPath: "" }))
      )
      expect(noTarget).toEqual({
        code: Status.INVALID_ARGUMENT,
        details: "InvalidRequest: Target path missing in request"
      })
      const target = "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v/mount"
      const ok = yield* Effect.promise(() =>
        codeOf(csi.node.nodeUnpublishVolume({ volumeId: "v", targetPath: target }))
      )
      expect(ok.code).toBe(Status.OK)
      expect(publisher.unpublished).toEqual([{ volumeId: "v", targetPath: target }])
      csi.close()
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.live("answers UNIMPLEMENTED for RPCs and services it does not serve", () =>
    Effect.gen(function* () {
      const socket = tempSocket()
      const scope = yield* startCsiServer(socket, recordingPublisher().layer)
      const csi = connectCsi(socket)
      const stage = yield* Effect.promise(() =>
        codeOf(csi.node.nodeStageVolume({ volumeId: "v", stagingTargetPath: "/s" }))
      )
      expect(stage.code).toBe(Status.UNIMPLEMENTED)
      const stats = yield* Effect.promise(() =>
        codeOf(csi.node.nodeGetVolumeStats({ volumeId: "v", volumePath: "/p" }))
      )
      expect(stats.code).toBe(Status.UNIMPLEMENTED)
      const expand = yield* Effect.promise(() => codeOf(csi.node.nodeExpandVolume({ volumeId: "v" })))
      expect(expand.code).toBe(Status.UNIMPLEMENTED)
      const controller = yield* Effect.promise(() => rawUnary(socket, "/csi.v1.Controller/ControllerGetCapabilities"))
      expect(controller).toBe(grpc.status.UNIMPLEMENTED)
      csi.close()
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.live("drains an in-flight publish on shutdown, then removes the socket", () =>
    Effect.gen(function* () {
      const socket = tempSocket()
      const hold = yield* Deferred.make<void>()
      const publisher = recordingPublisher(hold)
      const scope = yield* startCsiServer(socket, publisher.layer)
      const csi = connectCsi(socket)
      const inFlight = codeOf(csi.node.nodePublishVolume(publishRequest()))
      while (publisher.published.length === 0) yield* Effect.sleep("5 millis")
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* Effect.sleep("50 millis")
      // Still draining: the held call has not been cut off.
      assert.isUndefined(closing.pollUnsafe())
      yield* Deferred.succeed(hold, undefined)
      const result = yield* Effect.promise(() => inFlight)
      expect(result.code).toBe(Status.OK)
      yield* Fiber.join(closing) // wait for shutdown to finish
      expect(fs.existsSync(socket)).toBe(false)
      csi.close()
    })
  )
})

/** Calls a method no generated client knows, the way any gRPC client would. */
const rawUnary = (socket: string, method: string) =>
  new Promise<number>((resolve) => {
    const client = new grpc.Client(`unix:${socket}`, grpc.credentials.createInsecure())
    client.makeUnaryRequest(
      method,
      () => Buffer.alloc(0),
      (b: Buffer) => b,
      {},
      (error) => {
        client.close()
        resolve(error?.code ?? grpc.status.OK)
      }
    )
  })
