// API server faults against the secret sync controller: an outage of 500s on every write and read it makes, and a
// watch that drops every few events, during a burst of rotations. Once the API server recovers, every Secret
// converges to the last content on disk; nothing is lost.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  decoded,
  eventually,
  ns,
  secretOf,
  seedPod,
  seedSpc,
  seedStatus,
  targetPathFor,
  touchStatus,
  uidOf,
  world,
  writeFiles
} from "../sync/fixtures.js"

const objectFor = (i: number) => ({
  secretName: `app-${i}`,
  type: "Opaque",
  data: [{ objectName: "password", key: "password" }]
})

describe("secret sync under API server faults", () => {
  it.live("500s on every call and a dropping watch during rotations: converges once the API server recovers", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const pods = [0, 1, 2].map((i) => {
          seedSpc(w.server, `spc-${i}`, [objectFor(i)])
          return seedPod(w.server, `web-${i}`, { spc: `spc-${i}` })
        })
        const statuses = yield* Effect.forEach(pods, (pod, i) =>
          Effect.gen(function* () {
            const target = targetPathFor(w.root, uidOf(pod))
            yield* writeFiles(target, { password: `v0-${i}` })
            return { status: seedStatus(w.server, pod, `spc-${i}`, target), target }
          })
        )
        w.server.watch.dropAfter = 2
        yield* w.start()
        yield* eventually("the first sync", () =>
          [0, 1, 2].every((i) => decoded(secretOf(w.server, `app-${i}`), "password") === `v0-${i}`)
        )
        // The outage: every request fails, while the files rotate three times and the statuses change.
        w.server.failNext({ status: 500, times: 1_000_000, message: "etcdserver: request timed out" })
        const before = w.server.requests.length
        for (const round of [1, 2, 3]) {
          const sent = w.server.requests.length
          yield* Effect.forEach(statuses, ({ status, target }, i) =>
            Effect.andThen(
              writeFiles(target, { password: `v${round}-${i}` }),
              Effect.sync(() => touchStatus(w.server, String(status.metadata["name"])))
            )
          )
          // The controller keeps trying (and failing) during the outage: each round draws requests.
          yield* eventually(`requests during round ${round}`, () => w.server.requests.length > sent)
        }
        assert.strictEqual(decoded(secretOf(w.server, "app-0"), "password"), "v0-0")
        assert.isAtLeast(w.server.requests.length - before, 3)
        w.server.clearFaults()
        yield* eventually(
          "convergence after the outage",
          () => [0, 1, 2].every((i) => decoded(secretOf(w.server, `app-${i}`), "password") === `v3-${i}`),
          60_000
        )
        assert.strictEqual(secretOf(w.server, "app-0")?.metadata["namespace"], ns)
      })
    )
  )
})
