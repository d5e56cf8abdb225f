// Secret sync reads only the pod's own volume (CVE-2020-8568 and beyond): an attacker pod whose SPCPS points at a
// look-alike path, a canonical path with a symlinked element, or its own tmpfs with planted links to another pod's
// volume gets a typed failure, and no byte of the victim's files reaches any Secret. Real tmpfs, fake API server.
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import type { TypedFailure } from "../../src/domain/FailureReason.js"
import {
  decoded,
  eventually,
  ns,
  secretOf,
  secretsResource,
  seedPod,
  seedSpc,
  seedStatus,
  targetPathFor,
  uidOf,
  volumeName,
  type World,
  world,
  writeFiles
} from "./fixtures.js"

const opaque = {
  secretName: "app-secret",
  type: "Opaque",
  data: [
    { objectName: "username", key: "user" },
    { objectName: "dir/password", key: "pass" }
  ]
}
const victimFiles = { username: "VICTIM-USER-7f3a", "dir/password": "VICTIM-PASS-9c1e" }

interface Pods {
  readonly attacker: string
  readonly victimTarget: string
  /** The victim's current data directory (absolute). */
  readonly victimData: string
}

const io = <A>(run: () => Promise<A>) => Effect.promise(run)

/** A scenario's world: a victim pod with its files on its own tmpfs, an attacker pod syncing `opaque` from spc1. */
const setup = (w: World) =>
  Effect.gen(function* () {
    const victim = seedPod(w.server, "victim", { spc: "victim-spc" })
    const victimTarget = targetPathFor(w.root, uidOf(victim))
    yield* writeFiles(victimTarget, victimFiles)
    const victimData = nodePath.join(victimTarget, yield* io(() => fs.readlink(nodePath.join(victimTarget, "..data"))))
    seedSpc(w.server, "spc1", [opaque])
    const attacker = seedPod(w.server, "attacker")
    return { pods: { attacker: uidOf(attacker), victimTarget, victimData } satisfies Pods, attacker }
  })

/** No Secret was written at all, and none holds a byte of the victim's files. */
const assertNothingLeaked = (w: World) => {
  const secrets = w.server.store.list(secretsResource)
  for (const s of secrets) {
    for (const key of Object.keys((s["data"] as object | undefined) ?? {})) assert.notInclude(decoded(s, key), "VICTIM")
  }
  assert.deepStrictEqual(secrets, [])
  const secretsPath = `/api/v1/namespaces/${ns}/secrets`
  assert.deepStrictEqual(w.server.requestsMatching({ path: (p) => p.startsWith(secretsPath) }), [])
}

/** Points the attacker's status at the path `plant` prepares and checks the sync fails twice without a leak. */
const attack = (plant: (w: World, pods: Pods) => Effect.Effect<string>, reason: TypedFailure["reason"], says: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const w = yield* world
      const { pods, attacker } = yield* setup(w)
      const targetPath = yield* plant(w, pods)
      seedStatus(w.server, attacker, "spc1", targetPath)
      const sync = yield* w.start()
      yield* eventually(
        "a failure or a Secret",
        () => w.failures.length > 0 || w.server.store.list(secretsResource).length > 0
      )
      assertNothingLeaked(w)
      const failure = w.failures[0]!
      assert.strictEqual(failure.reason, reason)
      assert.include(failure.message, says)
      assert.strictEqual(failure.pod.name, "attacker")
      assert.notInclude(failure.message, "VICTIM")
      // A resync reconciles it again: still refused, still nothing written.
      yield* sync.resync
      yield* eventually("the failure after a resync", () => w.failures.length >= 2)
      assertNothingLeaked(w)
    })
  )

/** The attacker's canonical path, its parent directories made. */
const canonical = (w: World, pods: Pods) => targetPathFor(w.root, pods.attacker)
const mkdirs = (dir: string) => io(() => fs.mkdir(dir, { recursive: true }))

describe("secret sync reads only the pod's own volume (live, real tmpfs)", () => {
  it.live("a look-alike path in the pod's emptyDir whose `mount` links to the victim's tmpfs", () =>
    attack(
      (w, pods) =>
        Effect.gen(function* () {
          const emptyDir = nodePath.join(w.root, "pods", pods.attacker, "volumes", "kubernetes.io~empty-dir", "scratch")
          const lookAlike = targetPathFor(emptyDir, pods.attacker)
          yield* mkdirs(nodePath.dirname(lookAlike))
          yield* io(() => fs.symlink(pods.victimTarget, lookAlike))
          return lookAlike
        }),
      "InvalidRequest",
      "targetPath is not the path of a secrets-store volume of pod ns1/attacker"
    )
  )

  it.live("the canonical path whose volume directory is a symlink to the victim's", () =>
    attack(
      (w, pods) =>
        Effect.gen(function* () {
          const volumeDir = nodePath.dirname(canonical(w, pods))
          yield* mkdirs(nodePath.dirname(volumeDir))
          yield* io(() => fs.symlink(nodePath.dirname(pods.victimTarget), volumeDir))
          return canonical(w, pods)
        }),
      "InvalidRequest",
      `${volumeName} is a symlink`
    )
  )

  it.live("the canonical path whose `mount` is a symlink to the victim's tmpfs", () =>
    attack(
      (w, pods) =>
        Effect.gen(function* () {
          yield* mkdirs(nodePath.dirname(canonical(w, pods)))
          yield* io(() => fs.symlink(pods.victimTarget, canonical(w, pods)))
          return canonical(w, pods)
        }),
      "InvalidRequest",
      "mount is a symlink"
    )
  )

  it.live("the canonical path as a plain directory (not a tmpfs) holding links to the victim's files", () =>
    attack(
      (w, pods) =>
        Effect.gen(function* () {
          const target = canonical(w, pods)
          yield* mkdirs(nodePath.join(target, "dir"))
          yield* io(() => fs.symlink(nodePath.join(pods.victimTarget, "username"), nodePath.join(target, "username")))
          const victimPassword = nodePath.join(pods.victimData, "dir", "password")
          yield* io(() => fs.symlink(victimPassword, nodePath.join(target, "dir", "password")))
          return target
        }),
      "InvalidRequest",
      "is not a mounted secrets-store volume"
    )
  )

  it.live("its own tmpfs with a planted top-level link to the victim's directory", () =>
    attack(
      (w, pods) =>
        Effect.gen(function* () {
          const target = canonical(w, pods)
          yield* writeFiles(target, { username: "attacker-user" })
          yield* io(() => fs.symlink(nodePath.join(pods.victimData, "dir"), nodePath.join(target, "dir")))
          return target
        }),
      "InvalidSecretProviderClass",
      "file matching objectName dir/password not found in the pod"
    )
  )

  it.live("its own tmpfs whose ..data names a data directory that is a link to the victim's", () =>
    attack(
      (w, pods) =>
        Effect.gen(function* () {
          const target = canonical(w, pods)
          yield* mkdirs(target)
          execFileSync("mount", ["-t", "tmpfs", "tmpfs", target])
          yield* io(async () => {
            await fs.symlink(pods.victimData, nodePath.join(target, "..2020_01_01_00_00_00.1"))
            await fs.symlink("..2020_01_01_00_00_00.1", nodePath.join(target, "..data"))
            await fs.symlink("..data/username", nodePath.join(target, "username"))
            await fs.symlink("..data/dir", nodePath.join(target, "dir"))
          })
          return target
        }),
      "InvalidSecretProviderClass",
      "file matching objectName username not found in the pod"
    )
  )

  it.live("its own tmpfs with a link to a victim file planted inside its data directory", () =>
    attack(
      (w, pods) =>
        Effect.gen(function* () {
          const target = canonical(w, pods)
          yield* writeFiles(target, { username: "attacker-user", "dir/other": "x" })
          const data = yield* io(() => fs.readlink(nodePath.join(target, "..data")))
          const victimPassword = nodePath.join(pods.victimData, "dir", "password")
          yield* io(() => fs.symlink(victimPassword, nodePath.join(target, data, "dir", "password")))
          return target
        }),
      "InvalidSecretProviderClass",
      "file matching objectName dir/password not found in the pod"
    )
  )

  it.live("the pod's own volume at the canonical path still syncs, beside a victim on the same node", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* world
        const { attacker } = yield* setup(w)
        const target = targetPathFor(w.root, uidOf(attacker))
        yield* writeFiles(target, { username: "own-user", "dir/password": "own-pass" })
        seedStatus(w.server, attacker, "spc1", target)
        yield* w.start()
        yield* eventually("the secret", () => decoded(secretOf(w.server, "app-secret"), "pass") === "own-pass")
        assert.strictEqual(decoded(secretOf(w.server, "app-secret"), "user"), "own-user")
        yield* eventually("onSynced", () => w.synced.length === 1)
        assert.deepStrictEqual(w.failures, [])
      })
    )
  )
})
