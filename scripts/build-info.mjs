// Writes build-info.json beside package.json: the git commit and build date that `--version` reports
// (BuildInfo.ts reads it at runtime). Plain Node ESM, no dependencies; a missing git is "unknown", not a failed build.
// GIT_COMMIT and SOURCE_DATE_EPOCH override the detected values, for image builds without .git and for
// reproducible builds.
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../", import.meta.url))

const gitCommit = () => {
  if (process.env.GIT_COMMIT) return process.env.GIT_COMMIT
  try {
    return (
      execFileSync("git", ["rev-parse", "HEAD"], {
        cwd: root,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"]
      }).trim() || "unknown"
    )
  } catch {
    return "unknown" // no git binary, or not a work tree (e.g. an npm tarball)
  }
}

const buildDate = () => {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH)
  const date = process.env.SOURCE_DATE_EPOCH && Number.isFinite(epoch) ? new Date(epoch * 1000) : new Date()
  return date.toISOString().replace(/\.\d{3}Z$/, "Z")
}

const info = { gitCommit: gitCommit(), buildDate: buildDate() }
writeFileSync(new URL("../build-info.json", import.meta.url), `${JSON.stringify(info, null, 2)}\n`)
console.log(`build-info.json: ${JSON.stringify(info)}`)
