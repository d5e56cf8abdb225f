// components/fsgroup: the opt-in that makes kubelet pass each pod's fsGroup to the driver. Alone on the base it sets
// the CSIDriver's fsGroupPolicy to File and changes nothing else; the base leaves the policy to the cluster default.
import { describe, expect, it } from "vitest"
import { type KubeObject, kustomize, kustomizeWithComponents } from "./render.js"

const csiDriverSpec = (objects: ReadonlyArray<KubeObject>): Record<string, unknown> => {
  const driver = objects.find((o) => o.kind === "CSIDriver" && o.metadata?.name === "secrets-store.csi.k8s.io")
  expect(driver).toBeDefined()
  return (driver as unknown as { spec: Record<string, unknown> }).spec
}

describe("components/fsgroup", () => {
  it("sets fsGroupPolicy: File on the CSIDriver and leaves every other object as the base has it", async () => {
    const base = await kustomize("base")
    const withGroup = await kustomizeWithComponents(["fsgroup"])
    expect(csiDriverSpec(base)["fsGroupPolicy"]).toBeUndefined()
    const { fsGroupPolicy, ...rest } = csiDriverSpec(withGroup)
    expect(fsGroupPolicy).toBe("File")
    expect(rest).toEqual(csiDriverSpec(base))
    const others = (objects: ReadonlyArray<KubeObject>) => objects.filter((o) => o.kind !== "CSIDriver")
    expect(others(withGroup)).toEqual(others(base))
  })
})
