// Hostile providers through the real driver (child process, real tmpfs): each behaviour gives kubelet the
// typed reason and its gRPC code, writes nothing outside the target, and on a republish over good content
// (rotation on, poll interval 0) answers OK while the previous files stay byte for byte (same inodes too).
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Status } from "nice-grpc"
import { reasonToCode } from "../../src/csi/toStatus.js"
import type { FailureReason } from "../../src/domain/FailureReason.js"
import { outcomeOf, typedReasonOf } from "../support/CsiOutcome.js"
import {
  kubeletPublish,
  mountsUnder,
  startStressNode,
  targetFor,
  tree,
  type StressNode
} from "../support/StressHarness.js"
import {
  crashDuringCall,
  failWith,
  hang,
  respond,
  respondFiles,
  type MountBehaviour,
  type TestFile
} from "../support/TestProvider.js"

const good = respondFiles([
  { path: "a", contents: "good-a", mode: 0o600 },
  { path: "d/b", contents: "good-b" }
])
const v = [{ id: "x", version: "1" }]
const withGood = (...files: ReadonlyArray<TestFile>) => respondFiles([{ path: "fresh", contents: "new" }, ...files], v)
const MiB = 1024 * 1024

interface Row {
  readonly name: string
  readonly behaviour: MountBehaviour
  readonly reason: FailureReason
  readonly message: RegExp
  /** Another reason this behaviour may give, with its own code (see the crash row). */
  readonly alsoAllowed?: FailureReason
  /** The provider is down after this behaviour and must be restarted. */
  readonly crashes?: boolean
}

const rows: ReadonlyArray<Row> = [
  {
    name: "../x",
    behaviour: withGood({ path: "../x", contents: "x" }),
    reason: "InvalidProviderResponse",
    message: /"\.\.\/x".*'\.\.' element/
  },
  {
    name: "/abs",
    behaviour: withGood({ path: "/abs", contents: "x" }),
    reason: "InvalidProviderResponse",
    message: /absolute/
  },
  {
    name: "a/../../x",
    behaviour: withGood({ path: "a/../../x", contents: "x" }),
    reason: "InvalidProviderResponse",
    message: /'\.\.' element/
  },
  {
    name: "..data/x",
    behaviour: withGood({ path: "..data/x", contents: "x" }),
    reason: "InvalidProviderResponse",
    message: /starts with '\.\.'/
  },
  {
    name: "..x",
    behaviour: withGood({ path: "..x", contents: "x" }),
    reason: "InvalidProviderResponse",
    message: /starts with '\.\.'/
  },
  {
    name: "duplicate paths",
    behaviour: withGood({ path: "a", contents: "1" }, { path: "a", contents: "2" }),
    reason: "InvalidProviderResponse",
    message: /duplicate/
  },
  {
    name: "setuid mode 0o4755",
    behaviour: withGood({ path: "a", contents: "x", mode: 0o4755 }),
    reason: "InvalidProviderResponse",
    message: /mode 2541/
  },
  {
    name: "50 MiB over the default 4 MiB receive limit",
    behaviour: withGood({ path: "big", contents: new Uint8Array(50 * MiB).fill(0x61) }),
    reason: "ProviderError",
    message: /RESOURCE_EXHAUSTED.*larger than max.*--max-call-recv-msg-size/
  },
  { name: "never answers", behaviour: hang, reason: "ProviderTimeout", message: /did not answer within 5s/ },
  // The server's forced shutdown resets the stream: grpc-js reports CANCELLED, which is not retried; a
  // connection that is refused by then is UNAVAILABLE after the retries. Both are typed (as in ProviderClient.test).
  {
    name: "crashes mid-call",
    behaviour: crashDuringCall,
    reason: "ProviderUnavailable",
    alsoAllowed: "ProviderError",
    message: /UNAVAILABLE|CANCELLED/,
    crashes: true
  },
  {
    name: "gRPC error status",
    behaviour: failWith(Status.PERMISSION_DENIED, "vault said no"),
    reason: "ProviderError",
    message: /PERMISSION_DENIED: vault said no/
  },
  {
    name: "error code in the response",
    behaviour: respond({ error: { code: "AccessDenied" }, objectVersion: v }),
    reason: "ProviderError",
    message: /provider error code AccessDenied/
  },
  {
    name: "1 MiB error code with ANSI escapes and a newline",
    behaviour: respond({ error: { code: `\x1b[31m\nX${"E".repeat(MiB)}` }, objectVersion: v }),
    reason: "ProviderError",
    message: /provider error code \\x1b\[31m\\nXE{117}…\(1048583 chars\)$/
  },
  {
    name: "10,001 files, one more than the default --max-provider-files",
    behaviour: withGood(...Array.from({ length: 10_000 }, (_, i) => ({ path: `f${i}`, contents: "x" }))),
    reason: "InvalidProviderResponse",
    message: /10001 files, more than the 10000 --max-provider-files allows/
  },
  {
    name: "no object versions",
    behaviour: respond({ files: [{ path: "a", mode: 0o644, contents: new Uint8Array([1]) }] }),
    reason: "InvalidProviderResponse",
    message: /missing object versions/
  }
]

let node: StressNode
let pods = 0
beforeAll(async () => {
  // The default --tmpfs-size-limit holds this suite's 5,000 small files twice; test/e2e/fsgroup.test.ts covers the
  // limit itself.
  node = await startStressNode()
}, 60_000)
afterAll(async () => {
  await node?.close()
}, 60_000)

const newTarget = () => {
  const uid = `hostile-${++pods}`
  return { uid, target: targetFor(node.kubelet, uid) }
}
const publish = (target: string, uid: string) =>
  outcomeOf(node.csi().node.nodePublishVolume(kubeletPublish(target, uid)))
const restartProvider = () => Effect.runPromise(node.provider.restart)

/** The listing minus the target itself, which a failed first publish may leave as an empty directory. */
const withoutTarget = (listing: ReturnType<typeof tree>, target: string) => {
  const rel = path.relative(node.kubelet, target)
  return Object.fromEntries(Object.entries(listing).filter(([p]) => p !== rel && !p.startsWith(`${rel}/`)))
}

describe("hostile providers through the driver: a first publish", () => {
  for (const row of rows) {
    const code = Status[reasonToCode[row.reason]]
    it(`${row.name} -> ${row.reason} (${code}), nothing written, nothing mounted`, async () => {
      const { uid, target } = newTarget()
      node.provider.onMount(row.behaviour)
      const before = tree(node.kubelet)
      const mountsBefore = mountsUnder(node.kubelet)
      const outcome = await publish(target, uid)
      if (row.crashes) await restartProvider()
      expect(outcome.ok).toBe(false)
      const reason = typedReasonOf(outcome) as FailureReason
      expect([row.reason, row.alsoAllowed], JSON.stringify(outcome)).toContain(reason)
      expect(outcome.ok ? undefined : outcome.code).toBe(reasonToCode[reason])
      expect(outcome.ok ? "" : outcome.details).toMatch(row.message)
      expect(mountsUnder(node.kubelet)).toEqual(mountsBefore)
      expect(withoutTarget(tree(node.kubelet), target)).toEqual(before)
      if (fs.existsSync(target)) expect(fs.readdirSync(target)).toEqual([])
    }, 60_000)
  }
})

describe("hostile providers through the driver: a republish over good content", () => {
  for (const row of rows) {
    it(`${row.name}: kubelet gets OK, every entry under the kubelet root is unchanged`, async () => {
      const { uid, target } = newTarget()
      node.provider.onMount(good)
      expect(await publish(target, uid)).toEqual({ ok: true })
      expect(fs.readFileSync(path.join(target, "a"), "utf8")).toBe("good-a")
      const before = tree(node.kubelet)
      const calls = node.provider.mountRequests().length
      node.provider.onMount(row.behaviour)
      const outcome = await publish(target, uid)
      if (row.crashes) await restartProvider()
      expect(outcome).toEqual({ ok: true })
      expect(tree(node.kubelet)).toEqual(before)
      expect(mountsUnder(node.kubelet).map((m) => m.mountPoint)).toContain(target)
      // The republish really asked the provider (rotation on, poll interval 0): it was not skipped.
      expect(node.provider.mountRequests().length).toBeGreaterThan(calls)
    }, 60_000)
  }
})

describe("big but legal payloads through the driver", () => {
  it("5,000 files: all written through one ..data, none outside the target; a republish replaces all", async () => {
    const { uid, target } = newTarget()
    const many = (tag: string) =>
      Array.from({ length: 5000 }, (_, i) => ({ path: `d${i % 50}/f${i}`, contents: `${tag}-${i}` }))
    node.provider.onMount(respondFiles(many("one"), v))
    const before = tree(node.kubelet)
    expect(await publish(target, uid)).toEqual({ ok: true })
    const data = fs.realpathSync(path.join(target, "..data"))
    expect(fs.readdirSync(data)).toHaveLength(50)
    expect(fs.readFileSync(path.join(target, "d7", "f4957"), "utf8")).toBe("one-4957")
    expect(withoutTarget(tree(node.kubelet), target)).toEqual(withoutTarget(before, target))
    node.provider.onMount(respondFiles(many("two"), v))
    expect(await publish(target, uid)).toEqual({ ok: true })
    const files = Object.entries(tree(target)).filter(([, e]) => e.kind === "file")
    expect(files).toHaveLength(5000)
    expect(fs.readFileSync(path.join(target, "d0", "f0"), "utf8")).toBe("two-0")
    // The old data dir is gone: one data dir, ..data, 50 visible links.
    expect(fs.readdirSync(target).filter((n) => n.startsWith(".."))).toHaveLength(2)
  }, 120_000)
})
