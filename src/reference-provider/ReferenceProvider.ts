// The reference provider: a v1alpha1 CSIDriverProvider serving objects from a store file. The SPC's
// `objects` parameter (a YAML list of {objectName, fileName?, mode?}) picks what is returned; the
// request's JSON fields are checked like upstream's fake provider does (docs/upstream.md#reference-fakes).
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Yaml from "effect/encoding/Yaml"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { ServerError, Status } from "nice-grpc"
import type {
  CSIDriverProviderServiceImplementation,
  MountRequest,
  MountResponse,
  VersionResponse
} from "../gen/provider/v1alpha1/service.js"
import { makeEffectBridge } from "../platform/EffectBridge.js"
import { type ProviderServer, ProviderServerError, serveProvider } from "../provider/ProviderServer.js"
import { isValidProviderName, socketPath } from "../provider/providerSocket.js"
import { invalidArgument, notFound, type ReferenceProviderError, toServerError } from "./ReferenceProviderError.js"
import { makeReferenceStore, parseMode, type StoreContents } from "./ReferenceStore.js"

const RUNTIME_NAME = "secrets-store-reference-provider"

export interface ReferenceProviderOptions {
  /** Directory of the socket (`--provider-dir`). */
  readonly providerDir: string
  /** Provider name, i.e. the socket's base name and the SPC's `spec.provider` (`--name`). */
  readonly name: string
  /** The store file (`--store`). */
  readonly storePath: string
  /** Reported as `runtime_version`. */
  readonly version: string
}

const ObjectItem = Schema.Struct({
  objectName: Schema.NonEmptyString,
  fileName: Schema.optional(Schema.NonEmptyString),
  mode: Schema.optional(Schema.Union([Schema.Number, Schema.String]))
})
type ObjectItem = typeof ObjectItem.Type

const parseJson = (field: string, text: string) =>
  Effect.try({ try: (): unknown => JSON.parse(text), catch: () => invalidArgument(`${field} is not valid JSON`) })

const parseYaml = (what: string, text: string) =>
  Effect.try({
    try: () => Yaml.parse(text),
    catch: (cause) => invalidArgument(`${what} is not valid YAML: ${String(cause)}`)
  })

const decodeAttributes = Schema.decodeUnknownEffect(Schema.Record(Schema.String, Schema.String))
const decodeItems = Schema.decodeUnknownEffect(Schema.Array(ObjectItem))

// Azure-style SPCs wrap each object as a YAML string under `array:`; accept that as well as a plain list.
const unwrapArrayForm = (parsed: unknown) =>
  typeof parsed === "object" &&
  parsed !== null &&
  !Array.isArray(parsed) &&
  "array" in parsed &&
  Array.isArray(parsed.array)
    ? Effect.forEach(parsed.array, (item) =>
        typeof item === "string" ? parseYaml("objects item", item) : Effect.succeed(item)
      )
    : Effect.succeed(parsed)

const parseObjects = (attributes: Readonly<Record<string, string>>) =>
  Effect.gen(function* () {
    const text = attributes["objects"]
    if (text === undefined) return yield* Effect.fail(invalidArgument('parameter "objects" is missing'))
    const parsed = yield* parseYaml('parameter "objects"', text).pipe(Effect.flatMap(unwrapArrayForm))
    return yield* decodeItems(parsed).pipe(
      Effect.mapError((error) =>
        invalidArgument(`parameter "objects" is not a list of {objectName, fileName?, mode?}: ${error.message}`)
      )
    )
  })

const parsePermission = (text: string) =>
  parseJson("permission", text).pipe(
    Effect.flatMap((value) => {
      const mode = typeof value === "number" ? parseMode(value) : undefined
      return mode === undefined ? Effect.fail(invalidArgument("permission is not a file mode")) : Effect.succeed(mode)
    })
  )

const serveObject = (store: StoreContents, item: ObjectItem, defaultMode: number) => {
  const stored = store.get(item.objectName)
  if (stored === undefined) {
    return Effect.fail(notFound(`object ${JSON.stringify(item.objectName)} not found in the store`))
  }
  const mode = item.mode === undefined ? (stored.mode ?? defaultMode) : parseMode(item.mode)
  if (mode === undefined)
    return Effect.fail(invalidArgument(`object ${JSON.stringify(item.objectName)} has an invalid mode`))
  return Effect.succeed({
    version: { id: `secret/${item.objectName}`, version: stored.version },
    file: { path: item.fileName ?? item.objectName, mode, contents: stored.contents }
  })
}

/** Mount: checks the JSON fields, then answers one file and one version per requested object. */
export const mountFromStore = (
  load: Effect.Effect<StoreContents, ReferenceProviderError>,
  request: MountRequest
): Effect.Effect<MountResponse, ReferenceProviderError> =>
  Effect.gen(function* () {
    const attributes = yield* parseJson("attributes", request.attributes).pipe(
      Effect.flatMap(decodeAttributes),
      Effect.mapError((error) =>
        error._tag === "ReferenceProviderError" ? error : invalidArgument("attributes is not a JSON object of strings")
      )
    )
    yield* parseJson("secrets", request.secrets)
    const defaultMode = yield* parsePermission(request.permission)
    const items = yield* parseObjects(attributes)
    const store = yield* load
    const served = yield* Effect.forEach(items, (item) => serveObject(store, item, defaultMode))
    yield* Effect.logInfo("mount served", { objects: items.map((item) => item.objectName) })
    return { objectVersion: served.map((s) => s.version), error: undefined, files: served.map((s) => s.file) }
  })

const makeImplementation = (options: ReferenceProviderOptions) =>
  Effect.gen(function* () {
    const bridge = yield* makeEffectBridge()
    const store = makeReferenceStore(options.storePath)
    // Refusals become gRPC statuses; anything else is a bug, answered INTERNAL without details.
    const run = async <A>(effect: Effect.Effect<A, ReferenceProviderError>, signal: AbortSignal): Promise<A> => {
      const exit = await bridge.run(
        Effect.tapError(effect, (error) =>
          Effect.logWarning("mount refused", { code: error.code, error: error.message })
        ),
        signal
      )
      if (Exit.isSuccess(exit)) return exit.value
      const error = Exit.findErrorOption(exit)
      if (Option.isSome(error)) throw toServerError(error.value)
      throw new ServerError(Status.INTERNAL, "internal error")
    }
    const versionResponse: VersionResponse = {
      version: "v1alpha1",
      runtimeName: RUNTIME_NAME,
      runtimeVersion: options.version
    }
    const implementation: CSIDriverProviderServiceImplementation = {
      version: async () => versionResponse,
      mount: (request, { signal }) => run(mountFromStore(store.load, request), signal)
    }
    return implementation
  })

/** Serves the reference provider on `<providerDir>/<name>.sock` until the scope closes. */
export const serveReferenceProvider = (
  options: ReferenceProviderOptions
): Effect.Effect<ProviderServer, ProviderServerError, Scope.Scope> =>
  Effect.gen(function* () {
    if (!isValidProviderName(options.name)) {
      return yield* new ProviderServerError({ message: `invalid provider name ${JSON.stringify(options.name)}` })
    }
    const implementation = yield* makeImplementation(options)
    const path = socketPath(nodePath.resolve(options.providerDir), options.name)
    const server = yield* serveProvider({ socketPath: path, implementation })
    yield* Effect.logInfo("reference provider listening", { socket: path, store: options.storePath })
    return server
  })
