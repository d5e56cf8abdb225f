// The driver under test, frozen for the run: the sources (the working tree, or BENCH_REF=<git ref> read with
// git archive) copied to bench/.build/snapshot and built there with the project's own `npm run build`. The
// shared dist/ is rebuilt by every `npm test` on this machine, and the driver loads some modules lazily, so
// running dist/ in place could pick up another engineer's half-built tree in the middle of a run.
import { execFile } from "node:child_process"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { promisify } from "node:util"
import { repoRoot, useDistRoot } from "./procs.js"

const run = promisify(execFile)

export const snapshotRoot = path.join(repoRoot, "bench", ".build", "snapshot")

const copyIfPresent = (entry: string) =>
  fs.cp(path.join(repoRoot, entry), path.join(snapshotRoot, entry), { recursive: true }).catch((error: unknown) => {
    if ((error as { code?: string }).code !== "ENOENT") throw error
  })

/** Builds the snapshot and points the harness at it; returns a description of what was built. */
export const buildSnapshot = async (ref: string | undefined): Promise<string> => {
  await fs.rm(snapshotRoot, { recursive: true, force: true })
  await fs.mkdir(snapshotRoot, { recursive: true })
  if (ref === undefined) {
    for (const entry of [
      "src",
      "scripts",
      "proto",
      "native",
      "binding.gyp",
      "tsconfig.json",
      "tsconfig.build.json",
      "package.json"
    ]) {
      await copyIfPresent(entry)
    }
  } else {
    const archive = path.join(snapshotRoot, "..", "snapshot.tar")
    await run("git", ["archive", "--format=tar", `--output=${archive}`, ref], { cwd: repoRoot })
    await run("tar", ["-xf", archive, "-C", snapshotRoot])
    await fs.rm(archive)
  }
  // Generated at npm ci (prepare), not in git; the build does not make it.
  await copyIfPresent("build-info.json")
  // npm finds node_modules (and its .bin) in the repository above the snapshot. `install` builds the mount(2)
  // addon as `npm ci` does (it falls back to mount(8) by itself where it cannot).
  await run("npm", ["run", "install"], { cwd: snapshotRoot, maxBuffer: 16 * 2 ** 20 })
  await run("npm", ["run", "build"], { cwd: snapshotRoot, maxBuffer: 16 * 2 ** 20 })
  useDistRoot(path.join(snapshotRoot, "dist"))
  return ref === undefined ? "the working tree" : `git ref ${ref}`
}
