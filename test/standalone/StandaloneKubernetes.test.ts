// Standalone mode's Kubernetes layers: SecretProviderClasses read from a directory of YAML/JSON files (all
// documents, other kinds ignored, re-read on every get, a broken file skipped), and pod statuses kept in memory
// with one log line per upsert that names objects and versions but no file contents.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { TestConsole } from "effect/testing"
import { Logging } from "../../src/config/Logging.js"
import { PodStatuses } from "../../src/k8s/PodStatuses.js"
import { SecretProviderClasses } from "../../src/k8s/SecretProviderClasses.js"
import { StandaloneKubernetes } from "../../src/standalone/StandaloneKubernetes.js"
import { AtomicWriter } from "../../src/writer/AtomicWriter.js"
import { validatePayload } from "../../src/writer/Payload.js"

/** The standalone layers on the live writer, which the test can use too. */
const standalone = (dir: string) => StandaloneKubernetes.layer(dir).pipe(Layer.provideMerge(AtomicWriter.layer))

const spcYaml = (name: string, namespace?: string) =>
  `apiVersion: secrets-store.csi.x-k8s.io/v1\nkind: SecretProviderClass\nmetadata:\n  name: ${name}\n` +
  (namespace === undefined ? "" : `  namespace: ${namespace}\n`) +
  "spec:\n  provider: reference\n  parameters:\n    a: b\n"

const classesDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "standalone-"))
  fs.writeFileSync(
    path.join(dir, "app.yaml"),
    `${spcYaml("one", "default")}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n---\n${spcYaml("two", "ns2")}`
  )
  fs.mkdirSync(path.join(dir, "sub"))
  fs.writeFileSync(
    path.join(dir, "sub", "three.json"),
    JSON.stringify({
      apiVersion: "secrets-store.csi.x-k8s.io/v1",
      kind: "SecretProviderClass",
      metadata: { name: "three" },
      spec: { provider: "x", parameters: { a: "b" } }
    })
  )
  fs.writeFileSync(path.join(dir, "store.yaml"), 'db-password:\n  contents: x\n  version: "1"\n')
  fs.writeFileSync(path.join(dir, "broken.yaml"), `${spcYaml("four", "default")}  parameters: [\n`)
  fs.mkdirSync(path.join(dir, ".hidden"))
  fs.writeFileSync(path.join(dir, ".hidden", "five.yaml"), spcYaml("five", "default"))
  return dir
}

/** The service itself, so a test can call it after writing files. */
const classesIn = (dir: string) =>
  Effect.gen(function* () {
    return yield* SecretProviderClasses
  }).pipe(Effect.provide(standalone(dir)))

describe("StandaloneKubernetes: classes", () => {
  it.effect("finds every SecretProviderClass document; JSON without a namespace is in default", () =>
    Effect.gen(function* () {
      const classes = yield* SecretProviderClasses
      expect((yield* classes.get("default", "one")).metadata.name).toBe("one")
      expect((yield* classes.get("ns2", "two")).metadata.namespace).toBe("ns2")
      expect((yield* classes.get("default", "three")).spec.provider).toBe("x")
    }).pipe(Effect.provide(standalone(classesDir())))
  )

  it.effect(
    "a class in another namespace, in a hidden directory or in a broken file is not found, with upstream's words",
    () =>
      Effect.gen(function* () {
        const dir = classesDir()
        const classes = yield* classesIn(dir)
        for (const [namespace, name] of [
          ["default", "two"],
          ["default", "five"],
          ["default", "four"]
        ] as const) {
          const error = yield* Effect.flip(classes.get(namespace, name))
          expect(error.reason).toBe("SecretProviderClassNotFound")
          expect(error.message).toBe(
            `failed to get secretproviderclass ${namespace}/${name}, error: ` +
              `secretproviderclasses.secrets-store.csi.x-k8s.io "${name}" not found ` +
              `(standalone: no such SecretProviderClass in ${dir})`
          )
        }
      })
  )

  it.effect("re-reads the directory on every get: a new file is seen without a restart", () =>
    Effect.gen(function* () {
      const dir = classesDir()
      const classes = yield* classesIn(dir)
      expect((yield* Effect.flip(classes.get("default", "six"))).reason).toBe("SecretProviderClassNotFound")
      fs.writeFileSync(path.join(dir, "six.yml"), spcYaml("six"))
      expect((yield* classes.get("default", "six")).metadata.name).toBe("six")
    })
  )
})

describe("StandaloneKubernetes: pod statuses", () => {
  it.effect("one info line per upsert, with the status name and object versions", () =>
    Effect.gen(function* () {
      const statuses = yield* PodStatuses
      yield* statuses.upsert({
        podName: "pod-1",
        podNamespace: "default",
        podUid: "uid-1",
        spcName: "app",
        nodeId: "laptop",
        targetPath: "/t",
        objects: [
          { id: "secret/b", version: "2" },
          { id: "secret/a", version: "1" }
        ]
      })
      const lines = (yield* TestConsole.errorLines).map(String)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain("standalone: pod status recorded")
      expect(lines[0]).toContain("default/pod-1-default-app")
      expect(lines[0]).toContain("secret/b@2,secret/a@1")
    }).pipe(
      Effect.provide(standalone(fs.mkdtempSync(path.join(os.tmpdir(), "standalone-empty-")))),
      Effect.provide(Logging.layer({ logFormatJson: false, verbosity: 0 })),
      Effect.provide(TestConsole.layer)
    )
  )
})

describe("secret sync in standalone mode", () => {
  it.live("builds the class's Secrets from the mounted files and logs their names and keys, never values", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "standalone-sync-"))
    fs.writeFileSync(
      path.join(dir, "spc.yaml"),
      `${spcYaml("app", "default")}  secretObjects:\n` +
        "    - secretName: app-creds\n      type: Opaque\n" +
        "      data:\n        - objectName: password\n          key: pw\n"
    )
    return Effect.gen(function* () {
      const target = fs.mkdtempSync(path.join(os.tmpdir(), "standalone-target-"))
      const payload = yield* validatePayload([
        { path: "password", mode: 0o600, contents: new TextEncoder().encode("s3cr3t-value") }
      ])
      yield* (yield* AtomicWriter).write(target, payload)
      yield* (yield* PodStatuses).upsert({
        podName: "pod-1",
        podNamespace: "default",
        podUid: "uid-1",
        spcName: "app",
        nodeId: "laptop",
        targetPath: target,
        objects: []
      })
      const lines = (yield* TestConsole.errorLines).map(String)
      const synced = lines.filter((l) => l.includes("standalone: secret synced (in memory)"))
      expect(synced).toHaveLength(1)
      expect(synced[0]).toContain("default/app-creds")
      expect(synced[0]).toContain("pw")
      expect(lines.join("\n")).not.toContain("s3cr3t-value")
      expect(lines.join("\n")).not.toContain(Buffer.from("s3cr3t-value").toString("base64"))
    }).pipe(
      Effect.provide(standalone(dir)),
      Effect.provide(Logging.layer({ logFormatJson: false, verbosity: 0 })),
      Effect.provide(TestConsole.layer)
    )
  })

  it.live("reads the mounted files through the AtomicWriter it is given", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "standalone-sync-"))
    fs.writeFileSync(
      path.join(dir, "spc.yaml"),
      `${spcYaml("app", "default")}  secretObjects:\n` +
        "    - secretName: app-creds\n      type: Opaque\n" +
        "      data:\n        - objectName: password\n          key: pw\n"
    )
    // Never on disk: only the in-memory writer holds the target's files.
    const target = path.join(dir, "no-such-target")
    return Effect.gen(function* () {
      const payload = yield* validatePayload([
        { path: "password", mode: 0o600, contents: new TextEncoder().encode("v") }
      ])
      yield* (yield* AtomicWriter).write(target, payload)
      yield* (yield* PodStatuses).upsert({
        podName: "pod-1",
        podNamespace: "default",
        podUid: "uid-1",
        spcName: "app",
        nodeId: "laptop",
        targetPath: target,
        objects: []
      })
      const lines = (yield* TestConsole.errorLines).map(String)
      expect(lines.filter((l) => l.includes("standalone: secret synced (in memory)"))).toHaveLength(1)
    }).pipe(
      Effect.provide(StandaloneKubernetes.layer(dir).pipe(Layer.provideMerge(AtomicWriter.layerInMemory))),
      Effect.provide(Logging.layer({ logFormatJson: false, verbosity: 0 })),
      Effect.provide(TestConsole.layer)
    )
  })
})
