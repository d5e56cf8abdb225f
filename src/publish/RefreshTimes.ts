// When each target's secrets were last fetched and written by this process: what lets a republish within the
// rotation poll interval skip the provider (publish/RotationPolicy.ts). Forgotten on unpublish; lost on restart,
// when the target directory's mtime stands in for it.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export interface RefreshTimesShape {
  /** Epoch milliseconds of the last successful write to `target`, if this process made one. */
  readonly get: (target: string) => Effect.Effect<number | undefined>
  readonly record: (target: string, millis: number) => Effect.Effect<void>
  readonly forget: (target: string) => Effect.Effect<void>
}

export class RefreshTimes extends Context.Service<RefreshTimes, RefreshTimesShape>()("RefreshTimes") {
  /** One map for the process; one entry per published target. */
  static readonly layer: Layer.Layer<RefreshTimes> = Layer.sync(RefreshTimes, () => {
    const times = new Map<string, number>()
    return {
      get: (target) => Effect.sync(() => times.get(target)),
      record: (target, millis) => Effect.sync(() => void times.set(target, millis)),
      forget: (target) => Effect.sync(() => void times.delete(target))
    }
  })
}
