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

/** A readlink that answers undefined instead of failing: a link it could not read is simply not ours. */
const readlinkOrUndefined = (abs: string): Promise<string | undefined> => fs.readlink(abs).catch(() => undefined)

// A tmpfs this driver wrote holds one data dir, or two for a moment (an old one left by a cut-short cleanup).
const MAX_DATA_DIR_CANDIDATES = 2

/**
 * `..data` -> an existing data dir of the writer's name pattern, no `..data_tmp` (a swap cut short), and every
 * top-level entry of that data dir visible through its own `name -> ..data/name` link. Two rounds: one listing of
 * the target, then at once the readlink of `..data`, the listing of the data dir(s) and the readlink of every
 * visible link; any error reads as incomplete.
 */
const isCompleteLayout = async (target: string): Promise<boolean> => {
  try {
    const entries = new Map((await fs.readdir(target, { withFileTypes: true })).map((entry) => [entry.name, entry]))
    if (entries.has(DATA_LINK_TMP) || entries.get(DATA_LINK)?.isSymbolicLink() !== true) return false
    const candidates: Array<string> = []
    const links: Array<string> = []
    for (const [name, entry] of entries) {
      if (isDataDirName(name) && entry.isDirectory()) candidates.push(name)
      else if (!name.startsWith("..") && entry.isSymbolicLink()) links.push(name)
    }
    if (candidates.length === 0 || candidates.length > MAX_DATA_DIR_CANDIDATES) return false
    const [dataDir, listings, targets] = await Promise.all([
      fs.readlink(path.join(target, DATA_LINK)),
      Promise.all(candidates.map((name) => fs.readdir(path.join(target, name)).catch(() => undefined))),
      Promise.all(links.map((name) => readlinkOrUndefined(path.join(target, name))))
    ])
    const visible = listings[candidates.indexOf(dataDir)]
    if (!isDataDirName(dataDir) || visible === undefined) return false
    const linked = new Map(links.map((name, i) => [name, targets[i]]))
    return visible.every((name) => linked.get(name) === visibleLinkTarget(name))
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
