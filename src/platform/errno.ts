// The errno code of a Node system error (`ENOENT`, `EBUSY`, …), for the layers that decide on it: the mount, the
// writer, secret sync and the publish steps all read `cause.code` the same way.

/** The `code` of a Node fs or syscall error, or undefined when `cause` has none. */
export const errnoCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined
