// The examples work as written: each SecretProviderClass decodes with the driver's own Schema, each Pod is valid
// and mounts its example's SecretProviderClass the way the driver expects, and the reference example really mounts:
// the reference provider serves its SPC from its store file, with every file the secretObjects sync.
import * as Effect from "effect/Effect"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { decodeSecretProviderClass, type SecretProviderClass } from "../../src/domain/SecretProviderClass.js"
import { mountFromStore } from "../../src/reference-provider/ReferenceProvider.js"
import { parseStore } from "../../src/reference-provider/ReferenceStore.js"
import { modelOf, unknownFields } from "./knownFields.js"
import { containersOf, type KubeObject, readYamlFile, repoRoot } from "./render.js"
import { validateObject } from "./validate.js"

const examples = ["reference", "vault", "azure"] as const

const load = (example: string) => {
  const [spcObject, ...rest] = readYamlFile(`examples/${example}/secretproviderclass.yaml`)
  if (spcObject === undefined || rest.length > 0) throw new Error(`${example}: expected one SecretProviderClass`)
  return { spcObject, others: readYamlFile(`examples/${example}/pod.yaml`) }
}

const decode = (object: unknown): SecretProviderClass => Effect.runSync(decodeSecretProviderClass(object))

interface CsiVolume {
  readonly name: string
  readonly csi?: {
    readonly driver: string
    readonly readOnly?: boolean
    readonly volumeAttributes?: Record<string, string>
  }
}
const volumesOf = (pod: KubeObject) => (pod["spec"] as { volumes?: ReadonlyArray<CsiVolume> }).volumes ?? []

describe.each(examples)("examples/%s", (example) => {
  const { spcObject, others } = load(example)

  it("the SecretProviderClass decodes with the driver's Schema and is usable (provider and parameters set)", () => {
    const spc = decode(spcObject)
    expect(spc.apiVersion).toBe("secrets-store.csi.x-k8s.io/v1")
    expect(spc.spec.provider).toBe(example === "reference" ? "reference" : example)
    expect(Object.keys(spc.spec.parameters ?? {})).toContain("objects")
  })

  it("its other objects are valid for their kinds, with no unknown fields", () => {
    expect(others.some((o) => o.kind === "Pod")).toBe(true)
    for (const object of others) {
      expect(() => validateObject(object), `${object.kind}/${object.metadata.name}`).not.toThrow()
      expect(unknownFields(object, modelOf(object.apiVersion, object.kind))).toEqual([])
    }
  })

  it("the Pod mounts that SecretProviderClass read-only through the driver, in the same namespace", () => {
    const spc = decode(spcObject)
    for (const pod of others.filter((o) => o.kind === "Pod")) {
      expect(pod.metadata.namespace).toBe(spc.metadata.namespace)
      const volume = volumesOf(pod).find((v) => v.csi?.volumeAttributes?.["secretProviderClass"] === spc.metadata.name)
      expect(volume?.csi?.driver).toBe("secrets-store.csi.k8s.io")
      expect(volume?.csi?.readOnly).toBe(true)
      const mounts = containersOf(pod)
        .flatMap((c) => c.volumeMounts ?? [])
        .filter((m) => m.name === volume?.name)
      expect(mounts.length).toBeGreaterThan(0)
    }
  })
})

describe("examples/reference against the reference provider", () => {
  const spc = decode(load("reference").spcObject)
  const storePath = `${repoRoot}examples/reference/store.yaml`

  const mount = Effect.gen(function* () {
    const store = yield* parseStore(storePath, readFileSync(storePath, "utf8"))
    return yield* mountFromStore(Effect.succeed(store), {
      attributes: JSON.stringify(spc.spec.parameters),
      secrets: "null",
      targetPath: "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/secrets-store/mount",
      permission: "420",
      currentObjectVersion: []
    })
  })

  it("serves every object the SPC asks for, and every file the secretObjects sync", async () => {
    const response = await Effect.runPromise(mount)
    const paths = response.files.map((f) => f.path)
    expect(paths).toEqual(["username", "password", "config/app.json"])
    expect(response.files.find((f) => f.path === "password")?.mode).toBe(0o640)
    expect(Buffer.from(response.files.find((f) => f.path === "config/app.json")!.contents).toString("utf8")).toBe(
      '{"featureFlags":["rotation"]}'
    )
    const synced = (spc.spec.secretObjects ?? []).flatMap((s) => (s.data ?? []).map((d) => d.objectName))
    expect(synced.length).toBeGreaterThan(0)
    for (const objectName of synced) expect(paths).toContain(objectName)
  })

  it("the Pod reads a key the synced Secret has", () => {
    const pod = load("reference").others.find((o) => o.kind === "Pod")!
    const refs = containersOf(pod)
      .flatMap((c) => (c.env ?? []) as ReadonlyArray<{ valueFrom?: { secretKeyRef?: { name: string; key: string } } }>)
      .flatMap((e) => (e.valueFrom?.secretKeyRef === undefined ? [] : [e.valueFrom.secretKeyRef]))
    expect(refs.length).toBeGreaterThan(0)
    for (const ref of refs) {
      const secret = spc.spec.secretObjects?.find((s) => s.secretName === ref.name)
      expect(secret?.data?.map((d) => d.key)).toContain(ref.key)
    }
  })
})
