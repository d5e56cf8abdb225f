// The watch side of SecretSync against the fake API server: dropped connections in a burst resume from the last
// resourceVersion and lose nothing; a 410 on resume (as an ERROR event or as HTTP 410) re-lists and converges;
// failing lists are retried; the periodic resync picks up changes no watch event announced.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { podStatusesCollection } from "../../src/sync/PodStatusWatch.js"
import {
  decoded,
  eventually,
  type World,
  secretOf,
  seedPod,
  seedSpc,
  seedStatus,
  targetPathFor,
  touchStatus,
  uidOf,
  world,
  writeFiles
} from "./fixtures.js"

const hour = "1 hour"

/** Pod `p-i` mounting SPC `spc-i`, which syncs file `value` into Secret `s-i` key `v`. */
const seedOne = (w: World, i: number, value: string) =>
  Effect.gen(function* () {
    seedSpc(w.server, `spc-${i}`, [{ secretName: `s-${i}`, type: "Opaque", data: [{ objectName: "value", key: "v" }] }])
    const pod = seedPod(w.server, `p-${i}`, { spc: `spc-${i}` })
    const target = targetPathFor(w.root, uidOf(pod))
    yield* writeFiles(target, { value })
    seedStatus(w.server, pod, `spc-${i}`, target)
    return { target, status: `p-${i}-ns1-spc-${i}` }
  })

const valueOf = (w: World, i: number) => decoded(secretOf(w.server, `s-${i}`), "v")
const allAre = (w: World, ids: ReadonlyArray<number>, value: string) => ids.every((i) => valueOf(w, i) === value)
const lists = (w: World) =>
  w.server.requests.filter((r) => r.path === podStatusesCollection && r.query["watch"] !== "true")
const watches = (w: World) =>
  w.server.requests.filter((r) => r.path === podStatusesCollection && r.query["watch"] === "true")
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k)

describe("SecretSync watch (live, fake API server)", () => {
  it.live(
    "a watch dropped every 2 events during a burst of 20 changes resumes from its resourceVersion and loses none",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const w = yield* world
          const first = range(0, 8)
          const seeded = yield* Effect.forEach(first, (i) => seedOne(w, i, "v1"))
          w.server.watch.dropAfter = 2
          yield* w.start({ resyncInterval: hour })
          yield* eventually("the first sync", () => allAre(w, first, "v1"))
          // The burst: every status changes (new files), and new pods arrive, without waiting for the controller.
          for (const [i, s] of seeded.entries()) {
            yield* writeFiles(s.target, { value: "v2" })
            touchStatus(w.server, s.status)
            touchStatus(w.server, s.status)
            if (i < 4) yield* seedOne(w, 8 + i, "v2")
          }
          yield* eventually("every change", () => allAre(w, range(0, 12), "v2"))
          assert.strictEqual(lists(w).length, 1, "resumed without re-listing")
          const resumed = watches(w).slice(1)
          // 20 status events, 2 per connection: the first watch and at least 9 resumed ones delivered them.
          assert.isAtLeast(resumed.length, 9)
          const versions = resumed.map((r) => Number(r.query["resourceVersion"]))
          assert.isTrue(
            versions.every((v, k) => v > 0 && (k === 0 || v > versions[k - 1]!)),
            "resumes move forward"
          )
          assert.deepStrictEqual(w.failures, [])
        })
      )
  )

  for (const expiredAs of ["event", "status"] as const) {
    it.live(
      `410 Expired on resume (${expiredAs === "event" ? "ERROR event" : "HTTP 410"}) re-lists and converges`,
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const w = yield* world
            const a = yield* seedOne(w, 0, "v1")
            const b = yield* seedOne(w, 1, "v1")
            w.server.watch.dropAfter = 1
            w.server.watch.expiredAs = expiredAs
            yield* w.start({ resyncInterval: hour })
            yield* eventually("the first sync", () => allAre(w, [0, 1], "v1"))
            // Hold the reconnect back so the history can be compacted before it arrives.
            w.server.delay(1000, { method: "GET", path: podStatusesCollection })
            yield* writeFiles(a.target, { value: "v2" })
            touchStatus(w.server, a.status)
            yield* eventually("a's change, delivered before the drop", () => valueOf(w, 0) === "v2")
            yield* writeFiles(b.target, { value: "v2" })
            touchStatus(w.server, b.status)
            w.server.store.compact()
            yield* eventually("b's change, known only to a fresh list", () => valueOf(w, 1) === "v2")
            assert.isAtLeast(lists(w).length, 2)
          })
        )
    )
  }

  it.live("a failing list is retried; the periodic resync applies changes no event announced", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const a = yield* seedOne(w, 0, "v1")
        w.server.failNext({ method: "GET", path: podStatusesCollection, status: 500, times: 2 })
        yield* w.start({ resyncInterval: "300 millis" })
        yield* eventually("the first sync", () => valueOf(w, 0) === "v1")
        assert.isAtLeast(lists(w).length, 3)
        yield* writeFiles(a.target, { value: "v2" })
        yield* eventually("the resync", () => valueOf(w, 0) === "v2")
      })
    )
  )
})
