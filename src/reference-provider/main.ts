#!/usr/bin/env node
// secrets-store-reference-provider: flags -> serve until SIGTERM/SIGINT. runMain interrupts the program on a
// signal, closing the scope drains the server and removes its socket, and the exit is then 0.
import * as fs from "node:fs/promises"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import { Logging } from "../config/Logging.js"
import { runMain } from "../platform/runMain.js"
import { serveReferenceProvider } from "./ReferenceProvider.js"

// Two levels up from both src/reference-provider/ and dist/reference-provider/.
const packageVersion = Effect.tryPromise(() =>
  fs.readFile(new URL("../../package.json", import.meta.url), "utf8")
).pipe(
  Effect.map((text) => String((JSON.parse(text) as { version?: unknown }).version ?? "unknown")),
  Effect.orElseSucceed(() => "unknown")
)

const command = (version: string) =>
  Command.make(
    "secrets-store-reference-provider",
    {
      providerDir: Flag.String("provider-dir").pipe(
        Flag.withDefault("/var/run/secrets-store-csi-providers"),
        Flag.withDescription("directory of the provider socket <dir>/<name>.sock")
      ),
      name: Flag.String("name").pipe(
        Flag.withDefault("reference"),
        Flag.withDescription("provider name: the socket's base name and the SecretProviderClass spec.provider")
      ),
      store: Flag.String("store").pipe(
        Flag.withDescription("YAML or JSON file: object name -> {contents, version, mode?, encoding?}")
      )
    },
    (flags) =>
      serveReferenceProvider({
        providerDir: flags.providerDir,
        name: flags.name,
        storePath: flags.store,
        version
      }).pipe(Effect.andThen(Effect.never), Effect.scoped)
  )

const program = Effect.gen(function* () {
  const version = yield* packageVersion
  yield* Command.run(command(version), { version })
})

runMain(
  program.pipe(
    Effect.provide(Logging.layer({ logFormatJson: false, verbosity: 0 }, "reference-provider")),
    Effect.provide(NodeServices.layer)
  )
)
