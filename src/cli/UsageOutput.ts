// How effect/cli's output reaches the user: help and version as effect/cli formats them, but a bad command line
// as one line per mistake on stderr (reason first, like every other CLI failure) instead of the whole help page.
import * as CliOutput from "effect/cli/CliOutput"
import * as Console from "effect/Console"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"

const present = (event: CliOutput.Presenter.Event): Effect.Effect<void> => {
  if (event._tag !== "InvalidInvocation") return CliOutput.defaultPresenter.present(event)
  const help = `(see ${event.commandPath.join(" ")} --help)`
  return Console.error(
    event.errors.map((error) => `InvalidRequest: ${error.message.replace(/\s+/g, " ").trim()} ${help}`).join("\n")
  )
}

export const usageOutputLayer: Layer.Layer<never> = CliOutput.layerPresenter({ present })
