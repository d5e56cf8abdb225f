// Reading a file as another user, for the fsGroup tests: `setpriv` (util-linux) drops to uid 1000 and one group.
import { execFileSync } from "node:child_process"

/** `cat file` as uid 1000 with only `gid` (no supplementary groups): the bytes, or undefined when refused. */
export const readAs = (gid: number, file: string): string | undefined => {
  try {
    const args = ["--reuid", "1000", "--regid", String(gid), "--clear-groups", "cat", file]
    return execFileSync("setpriv", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  } catch {
    return undefined
  }
}
