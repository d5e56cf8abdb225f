// 1,000 kubelet-like clients connecting to the CSI socket at once: each must be accepted (no UNAVAILABLE).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { ClientError, createChannel, createClient, Status } from "nice-grpc"
import { IdentityDefinition, NodeDefinition } from "../../src/gen/csi/v1/csi.js"
import { startCsiServer } from "../support/CsiServer.js"

const CLIENTS = 1_000

// grpc-js shares one connection among channels to the same address unless each has its own subchannel pool;
// kubelet's callers are separate processes, so each client here gets its own connection.
const ownConnection = (socket: string) => {
  const channel = createChannel(`unix://${socket}`, undefined, { "grpc.use_local_subchannel_pool": 1 })
  return {
    identity: createClient(IdentityDefinition, channel),
    node: createClient(NodeDefinition, channel),
    close: () => channel.close()
  }
}

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => Status.OK,
    (error: unknown) => (error instanceof ClientError ? error.code : Status.UNKNOWN)
  )

describe("CSI socket backlog", () => {
  it.live(
    `${CLIENTS} simultaneous connections, each its own channel: none is refused`,
    () =>
      Effect.gen(function* () {
        const socket = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "csi-")), "csi.sock")
        const scope = yield* startCsiServer(socket)
        const clients = Array.from({ length: CLIENTS }, () => ownConnection(socket))
        const codes = yield* Effect.promise(() =>
          Promise.all(
            clients.map((c, i) => codeOf(i % 2 === 0 ? c.identity.probe({}) : c.node.nodeGetCapabilities({})))
          )
        )
        for (const c of clients) c.close()
        yield* Scope.close(scope, Exit.void)
        const counts = new Map<string, number>()
        for (const code of codes) counts.set(Status[code], (counts.get(Status[code]) ?? 0) + 1)
        expect(Object.fromEntries(counts)).toEqual({ OK: CLIENTS })
      }),
    120_000
  )
})
