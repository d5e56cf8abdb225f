// The Publisher alone: in-memory mounter, writer and Kubernetes; a real provider client talking
// to a TestProvider over a unix socket. Every row of docs/upstream.md#publish-error-codes, and the
// republish rules of docs/contract.md#republish-skip and #masked-republish-failure.
import { assert, describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { Status } from "nice-grpc"
import type { FailureReason, TypedFailure } from "../../src/domain/FailureReason.js"
import type { SecretProviderClass } from "../../src/domain/SecretProviderClass.js"
import { PodStatusesInMemory } from "../../src/k8s/PodStatuses.js"
import { MounterInMemory } from "../../src/mount/Mounter.js"
import { Publisher } from "../../src/publish/Publisher.js"
import type { PublishOptions } from "../../src/publish/Publisher.js"
import { AtomicWriterInMemory } from "../../src/writer/AtomicWriter.js"
import type { NodePublishVolumeRequest } from "../../src/gen/csi/v1/csi.js"
import {
  failWith,
  hang,
  makeTestProvider,
  respond,
  respondFiles,
  type MountBehaviour,
  type TestProvider
} from "../support/TestProvider.js"
import { publisherWith, request, spc, tempTarget } from "./fixtures.js"

const good = spc("default", "my-spc", { provider: "test", parameters: { objects: "- objectName: a" } })
const files = respondFiles([{ path: "a", contents: "secret-a", mode: 0o600 }], [{ id: "secret/a", version: "v1" }])

interface Row {
  readonly name: string
  readonly classes: ReadonlyArray<SecretProviderClass>
  readonly behaviour?: MountBehaviour
  readonly overrides?: Partial<NodePublishVolumeRequest>
  readonly reason: FailureReason
  readonly message: RegExp
}

const rows: ReadonlyArray<Row> = [
  {
    name: "secretProviderClass not set",
    classes: [good],
    overrides: { volumeContext: { "csi.storage.k8s.io/pod.namespace": "default" } },
    reason: "InvalidRequest",
    message: /secretProviderClass is not set/
  },
  {
    name: "missing SPC",
    classes: [],
    reason: "SecretProviderClassNotFound",
    message: /failed to get secretproviderclass default\/my-spc/
  },
  {
    name: "SPC in another namespace",
    classes: [spc("other", "my-spc", good.spec!)],
    reason: "SecretProviderClassNotFound",
    message: /default\/my-spc/
  },
  {
    name: "empty provider",
    classes: [spc("default", "my-spc", { parameters: { a: "b" } })],
    reason: "InvalidSecretProviderClass",
    message: /provider not set in default\/my-spc/
  },
  {
    name: "empty parameters",
    classes: [spc("default", "my-spc", { provider: "test" })],
    reason: "InvalidSecretProviderClass",
    message: /parameters not set in default\/my-spc/
  },
  {
    name: "readonly=false",
    classes: [good],
    overrides: { readonly: false },
    reason: "InvalidRequest",
    message: /Readonly is not true in request/
  },
  {
    name: "invalid provider name",
    classes: [spc("default", "my-spc", { provider: "../evil", parameters: { a: "b" } })],
    reason: "ProviderNotFound",
    message: /\.\.\/evil/
  },
  {
    name: "socket missing",
    classes: [spc("default", "my-spc", { provider: "absent", parameters: { a: "b" } })],
    reason: "ProviderNotFound",
    message: /provider not found/
  },
  {
    name: "provider error code",
    classes: [good],
    behaviour: respond({ error: { code: "AccessDenied" }, objectVersion: [{ id: "x", version: "1" }] }),
    reason: "ProviderError",
    message: /provider error code AccessDenied/
  },
  {
    name: "gRPC error",
    classes: [good],
    behaviour: failWith(Status.PERMISSION_DENIED, "vault said no"),
    reason: "ProviderError",
    message: /test/
  },
  {
    name: "empty object_version",
    classes: [good],
    behaviour: respond({ files: [{ path: "a", mode: 420, contents: new Uint8Array([1]) }] }),
    reason: "InvalidProviderResponse",
    message: /missing object versions/
  },
  { name: "provider timeout", classes: [good], behaviour: hang, reason: "ProviderTimeout", message: /test/ },
  {
    name: "hostile path from the provider",
    classes: [good],
    behaviour: respondFiles([{ path: "../x", contents: "x" }], [{ id: "x", version: "1" }]),
    reason: "InvalidProviderResponse",
    message: /"\.\.\/x"/
  }
]

const publishOnce = (provider: TestProvider, classes: ReadonlyArray<SecretProviderClass>, row: Row, target: string) =>
  Effect.gen(function* () {
    const publisher = yield* Publisher
    const exit = yield* publisher.publish(yield* request(target, row.overrides ?? {})).pipe(Effect.exit)
    const mounts = yield* MounterInMemory
    return {
      exit,
      mounted: yield* mounts.mounted,
      mountCount: yield* mounts.mountCount,
      writes: yield* (yield* AtomicWriterInMemory).attempts
    }
  }).pipe(Effect.provide(publisherWith(provider.dir, classes)))

describe("Publisher: a failed first publish", () => {
  for (const row of rows) {
    it.live(`${row.name} -> ${row.reason}, nothing left mounted`, () =>
      Effect.gen(function* () {
        const provider = yield* makeTestProvider()
        provider.onMount(row.behaviour ?? files)
        const result = yield* publishOnce(provider, row.classes, row, tempTarget())
        assert.isTrue(Exit.isFailure(result.exit))
        const failure = Exit.isFailure(result.exit)
          ? (Option.getOrThrow(Exit.findErrorOption(result.exit)) as TypedFailure)
          : undefined
        expect(failure?.reason).toBe(row.reason)
        expect(failure?.message).toMatch(row.message)
        // Failures after the SPC checks happen with the tmpfs mounted: it must have been rolled back.
        const afterMount = row.reason.startsWith("Provider") || row.reason === "InvalidProviderResponse"
        expect(result.mountCount).toBe(afterMount ? 1 : 0)
        expect([...result.mounted]).toEqual([])
        expect(result.writes).toEqual([])
      }).pipe(Effect.scoped)
    )
  }
})

const lifecycle = (options: Partial<PublishOptions>) =>
  Effect.gen(function* () {
    const provider = yield* makeTestProvider()
    provider.onMount(files)
    const target = tempTarget()
    return { provider, target, layer: publisherWith(provider.dir, [good], options) }
  })

describe("Publisher: publish, republish, unpublish", () => {
  it.live("a first publish mounts, writes the provider's files and records the pod status", () =>
    Effect.gen(function* () {
      const { provider, target, layer } = yield* lifecycle({})
      yield* Effect.gen(function* () {
        yield* (yield* Publisher).publish(yield* request(target))
        expect([...(yield* (yield* MounterInMemory).mounted)]).toEqual([target])
        const written = Option.getOrThrow(yield* (yield* AtomicWriterInMemory).lastWrite(target))
        expect(written.files.map((f) => [f.path, f.mode, Buffer.from(f.contents).toString()])).toEqual([
          ["a", 0o600, "secret-a"]
        ])
        const statuses = yield* (yield* PodStatusesInMemory).list
        expect(statuses).toHaveLength(1)
        expect(statuses[0]?.metadata.name).toBe("pod-1-default-my-spc")
        expect(statuses[0]?.status?.objects).toEqual([{ id: "secret/a", version: "v1" }])
        expect(statuses[0]?.status?.targetPath).toBe(target)
        const sent = JSON.parse(provider.mountRequests()[0]!.attributes) as Record<string, string>
        expect(sent["objects"]).toBe("- objectName: a")
        expect(sent["csi.storage.k8s.io/pod.name"]).toBe("pod-1")
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped)
  )

  it.live("without rotation, a republish of a mounted target is a no-op", () =>
    Effect.gen(function* () {
      const { provider, target, layer } = yield* lifecycle({ enableSecretRotation: false })
      yield* Effect.gen(function* () {
        const publisher = yield* Publisher
        yield* publisher.publish(yield* request(target))
        yield* publisher.publish(yield* request(target))
        expect(provider.mountRequests()).toHaveLength(1)
        expect(yield* (yield* MounterInMemory).mountCount).toBe(1)
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped)
  )

  it.live("with rotation, a republish within the poll interval skips the provider; after it, it refreshes", () =>
    Effect.gen(function* () {
      const { provider, target, layer } = yield* lifecycle({
        enableSecretRotation: true,
        rotationPollInterval: Duration.millis(300)
      })
      yield* Effect.gen(function* () {
        const publisher = yield* Publisher
        yield* publisher.publish(yield* request(target))
        yield* publisher.publish(yield* request(target))
        expect(provider.mountRequests()).toHaveLength(1)
        yield* Effect.sleep("350 millis")
        provider.onMount(respondFiles([{ path: "a", contents: "rotated" }], [{ id: "secret/a", version: "v2" }]))
        yield* publisher.publish(yield* request(target))
        expect(provider.mountRequests()).toHaveLength(2)
        const written = Option.getOrThrow(yield* (yield* AtomicWriterInMemory).lastWrite(target))
        expect(Buffer.from(written.files[0]!.contents).toString()).toBe("rotated")
        expect((yield* (yield* PodStatusesInMemory).list)[0]?.status?.objects).toEqual([
          { id: "secret/a", version: "v2" }
        ])
        expect(yield* (yield* MounterInMemory).mountCount).toBe(1)
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped)
  )

  it.live("a failed republish keeps the old files, the mount, and succeeds for kubelet", () =>
    Effect.gen(function* () {
      const { provider, target, layer } = yield* lifecycle({
        enableSecretRotation: true,
        rotationPollInterval: Duration.millis(0)
      })
      yield* Effect.gen(function* () {
        const publisher = yield* Publisher
        yield* publisher.publish(yield* request(target))
        provider.onMount(failWith(Status.UNAVAILABLE, "vault is down"))
        yield* publisher.publish(yield* request(target))
        expect([...(yield* (yield* MounterInMemory).mounted)]).toEqual([target])
        const written = Option.getOrThrow(yield* (yield* AtomicWriterInMemory).lastWrite(target))
        expect(Buffer.from(written.files[0]!.contents).toString()).toBe("secret-a")
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped)
  )

  it.live("unpublish unmounts and is idempotent", () =>
    Effect.gen(function* () {
      const { target, layer } = yield* lifecycle({})
      yield* Effect.gen(function* () {
        const publisher = yield* Publisher
        yield* publisher.publish(yield* request(target))
        yield* publisher.unpublish({ volumeId: "v", targetPath: target })
        expect([...(yield* (yield* MounterInMemory).mounted)]).toEqual([])
        yield* publisher.unpublish({ volumeId: "v", targetPath: target })
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped)
  )

  it.live("tokens come from the secrets map first, then the volume context", () =>
    Effect.gen(function* () {
      const { provider, target, layer } = yield* lifecycle({})
      const tokenKey = "csi.storage.k8s.io/serviceAccount.tokens"
      yield* Effect.gen(function* () {
        const base = yield* request(target)
        yield* (yield* Publisher).publish(
          yield* request(target, {
            volumeContext: { ...base.volumeContext, [tokenKey]: '{"aud":{"token":"from-context"}}' },
            secrets: { [tokenKey]: '{"aud":{"token":"from-secrets"}}' }
          })
        )
        const sent = JSON.parse(provider.mountRequests()[0]!.attributes) as Record<string, string>
        expect(sent[tokenKey]).toContain("from-secrets")
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped)
  )
})
