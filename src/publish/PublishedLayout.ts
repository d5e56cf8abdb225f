// Whether a mounted target holds a complete `..data` layout this driver wrote: the only state in which a republish
// may skip the provider. A crash after the mount (kill -9, OOM) or a foreign tmpfs leaves anything else, and then
// the publish (re)writes it. Cheap on purpose, as every no-op republish runs it: no walk, nothing per volume.
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AtomicWriterInMemory } from "../writer/AtomicWriter.js"
import { DATA_LINK, DATA_LINK_TMP, isDataDirName, visibleLinkTarget } from "../writer/TargetFiles.js"

/**
 * `..data` -> an existing data dir of the writer's name pattern, no `..data_tmp` (a swap cut short), and every
 * top-level entry of that data dir visible through its own `name -> ..data/name` link. One listing of the target,
 * one of the data dir, one readlink of `..data` and one per top-level entry; any error reads as incomplete.
 */
const isCompleteLayout = async (target: string): Promise<boolean> => {
  try {
    const entries = new Map((await fs.readdir(target, { withFileTypes: true })).map((entry) => [entry.name, entry]))
    if (entries.has(DATA_LINK_TMP) || entries.get(DATA_LINK)?.isSymbolicLink() !== true) return false
    const dataDir = await fs.readlink(path.join(target, DATA_LINK))
    if (!isDataDirName(dataDir) || entries.get(dataDir)?.isDirectory() !== true) return false
    const visible = await fs.readdir(path.join(target, dataDir))
    const linked = await Promise.all(
      visible.map(
        async (name) =>
          entries.get(name)?.isSymbolicLink() === true &&
          (await fs.readlink(path.join(target, name))) === visibleLinkTarget(name)
      )
    )
    return linked.every(Boolean)
  } catch {
    return false
  }
}

export interface PublishedLayoutShape {
  readonly isComplete: (target: string) => Effect.Effect<boolean>
}

export class PublishedLayout extends Context.Service<PublishedLayout, PublishedLayoutShape>()("PublishedLayout") {
  /** The layout on disk. */
  static readonly layer: Layer.Layer<PublishedLayout> = Layer.succeed(PublishedLayout, {
    isComplete: Effect.fn("PublishedLayout.isComplete")(function* (target: string) {
      return yield* Effect.promise(() => isCompleteLayout(target))
    })
  })

  /** Beside `AtomicWriter.layerInMemory`: complete once a write to the target succeeded. */
  static readonly layerInMemory: Layer.Layer<PublishedLayout, never, AtomicWriterInMemory> = Layer.effect(
    PublishedLayout,
    Effect.gen(function* () {
      const targets = yield* AtomicWriterInMemory
      return { isComplete: (target: string) => Effect.map(targets.lastWrite(target), Option.isSome) }
    })
  )
}
