// The driver's standalone mode (`--standalone-classes DIR`): SecretProviderClasses come from the YAML files in
// DIR, re-read on every get (a handful of small files, and edits apply without a restart), and pod statuses are
// kept in memory and logged. No API server is contacted.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { podStatusName, type SecretProviderClass } from "../domain/SecretProviderClass.js"
import { PodStatuses, type PodStatusInput } from "../k8s/PodStatuses.js"
import { classNotFound, SecretProviderClasses } from "../k8s/SecretProviderClasses.js"
import { buildSecrets } from "../sync/SecretBuilder.js"
import { AtomicWriter, type AtomicWriterShape } from "../writer/AtomicWriter.js"
import { decodeClassDocument, isClassDocument, listClassFiles, readDocuments } from "./ClassFiles.js"

/** Every SPC in `dir`; a broken file is logged and skipped so one typo does not hide the other classes. */
const loadClassDirectory = (dir: string): Effect.Effect<ReadonlyArray<SecretProviderClass>> =>
  listClassFiles(dir).pipe(
    Effect.flatMap((files) =>
      Effect.forEach(files, (file) =>
        readDocuments(file).pipe(
          Effect.flatMap((documents) => Effect.forEach(documents.filter(isClassDocument), decodeClassDocument)),
          Effect.catch((error) =>
            Effect.as(
              Effect.logWarning("standalone: skipping a SecretProviderClass file", { error: error.message }),
              []
            )
          )
        )
      )
    ),
    Effect.map((perFile) => perFile.flat()),
    Effect.catch((error) =>
      Effect.as(Effect.logWarning("standalone: cannot read the classes directory", { error: error.message }), [])
    )
  )

const notFound = (dir: string, namespace: string, name: string) =>
  classNotFound(namespace, name, `standalone: no such SecretProviderClass in ${dir}`)

const classesLayer = (dir: string): Layer.Layer<SecretProviderClasses> =>
  Layer.succeed(SecretProviderClasses, {
    get: Effect.fn("SecretProviderClasses.get")(function* (namespace: string, name: string) {
      const classes = yield* loadClassDirectory(dir)
      const found = classes.find((spc) => spc.metadata.namespace === namespace && spc.metadata.name === name)
      return found ?? (yield* notFound(dir, namespace, name))
    }),
    // The files are read on every lookup and nothing watches them: a removed file's copies go by their staleness.
    onDeleted: () => Effect.void
  })

/** What one upsert log line says: names and versions, never file contents. */
const describeUpsert = (input: PodStatusInput) => ({
  podStatus: `${input.podNamespace}/${podStatusName(input.podName, input.podNamespace, input.spcName)}`,
  pod: `${input.podNamespace}/${input.podName}`,
  secretProviderClass: input.spcName,
  targetPath: input.targetPath,
  objects: input.objects.map((o) => `${o.id}@${o.version}`).join(",")
})

/**
 * Secret sync without a cluster: after each recorded status, the Secrets its class's `secretObjects` describe are
 * built from the mounted files (read through the AtomicWriter) by the sync controller's own builder and logged by
 * name, type and keys, never values.
 */
const syncInMemory = (dir: string, writer: AtomicWriterShape, input: PodStatusInput) =>
  Effect.gen(function* () {
    const classes = yield* loadClassDirectory(dir)
    const spc = classes.find((c) => c.metadata.namespace === input.podNamespace && c.metadata.name === input.spcName)
    const secretObjects = spc?.spec.secretObjects ?? []
    if (secretObjects.length === 0) return
    const files = yield* writer.read(input.targetPath)
    const built = buildSecrets({ namespace: input.podNamespace, name: input.spcName }, secretObjects, files)
    for (const secret of built.secrets) {
      yield* Effect.logInfo("standalone: secret synced (in memory)", {
        secret: `${secret.namespace}/${secret.name}`,
        type: secret.type,
        keys: Object.keys(secret.data).join(",")
      })
    }
    for (const error of built.errors)
      yield* Effect.logWarning("standalone: secret not synced", { reason: error.reason, error: error.message })
  }).pipe(Effect.catch((error) => Effect.logWarning("standalone: secret sync skipped", { error: error.message })))

/** The in-memory pod statuses, with one info line per upsert, and the in-memory secret sync. */
const podStatusesLayer = (dir: string): Layer.Layer<PodStatuses, never, AtomicWriter> =>
  Layer.effect(
    PodStatuses,
    Effect.gen(function* () {
      const inner = yield* PodStatuses
      const writer = yield* AtomicWriter
      return PodStatuses.of({
        upsert: (input) =>
          inner.upsert(input).pipe(
            Effect.tap(() => Effect.logInfo("standalone: pod status recorded", describeUpsert(input))),
            Effect.tap(() => syncInMemory(dir, writer, input))
          )
      })
    })
  ).pipe(Layer.provide(PodStatuses.layerInMemory))

export const StandaloneKubernetes = {
  /** What the Kubernetes layers become under `--standalone-classes DIR`; mounted files are read through the writer. */
  layer: (dir: string): Layer.Layer<SecretProviderClasses | PodStatuses, never, AtomicWriter> =>
    Layer.mergeAll(classesLayer(dir), podStatusesLayer(dir))
} as const
