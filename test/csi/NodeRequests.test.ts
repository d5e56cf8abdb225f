// Target paths at the edge: the CSI spec requires an absolute path; anything else is refused before it can be
// created, mounted or emptied.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { decodePublish, decodeUnpublish } from "../../src/csi/NodeRequests.js"
import { publishRequest } from "../support/CsiClient.js"

const refused = ["relative/mount", "./mount", "/var/lib/kubelet/pods/u/volumes/../../../etc", "/a//b", "/a/./b", "/", "//"]
const accepted = ["/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v/mount", "/var/lib/kubelet/pods/u/mount/", "/t"]

describe("target path rules", () => {
  it.each(refused)("refuses %j on publish and unpublish", (targetPath) => {
    for (const exit of [
      Effect.runSyncExit(decodePublish(publishRequest({ targetPath }))),
      Effect.runSyncExit(decodeUnpublish({ volumeId: "v", targetPath }))
    ]) {
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
      expect(JSON.stringify(error)).toContain("is not an absolute, clean path")
    }
  })

  it.each(accepted)("accepts %j", (targetPath) => {
    expect(Exit.isSuccess(Effect.runSyncExit(decodePublish(publishRequest({ targetPath }))))).toBe(true)
    expect(Exit.isSuccess(Effect.runSyncExit(decodeUnpublish({ volumeId: "v", targetPath })))).toBe(true)
  })
})
