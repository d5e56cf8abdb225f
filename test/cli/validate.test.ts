// `secrets-store validate` as a child process: a table of broken SecretProviderClasses, each with the exact
// `file:line: message` it must produce (exit 1), and the repo's examples, which must pass (exit 0).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { repoRoot, runProgram } from "../support/ChildProcess.js"

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-validate-"))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const header = `apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: app
`
const objects = `  parameters:
    objects: |
      - objectName: db-username
        fileName: username
      - objectName: tls
`

interface Case {
  readonly name: string
  readonly yaml: string
  readonly expected: ReadonlyArray<string>
}

const cases: ReadonlyArray<Case> = [
  {
    name: "wrong apiVersion, no provider, no parameters",
    yaml:
      "apiVersion: secrets-store.csi.x-k8s.io/v2\nkind: SecretProviderClass\n" +
      'metadata:\n  name: app\nspec:\n  provider: ""\n',
    expected: [
      '1: apiVersion "secrets-store.csi.x-k8s.io/v2" is not one of ' +
        "secrets-store.csi.x-k8s.io/v1, secrets-store.csi.x-k8s.io/v1alpha1",
      '5: spec.parameters is empty: the mount fails with "parameters not set"',
      '6: spec.provider is not set: the mount fails with "provider not set"'
    ]
  },
  {
    name: "misspelt kind, provider name that is not a socket name, unquoted parameter",
    yaml:
      "apiVersion: secrets-store.csi.x-k8s.io/v1\nkind: SecretProviderclass\nmetadata:\n  name: app\n" +
      "spec:\n  provider: azure/kv\n  parameters:\n    port: 8200\n",
    expected: [
      "2: kind must be SecretProviderClass",
      '6: spec.provider "azure/kv" must match ^[a-zA-Z0-9_-]{0,30}$ (it names the socket <provider>.sock)',
      "8: spec.parameters.port is a number, not a string: quote it"
    ]
  },
  {
    name: "secretObjects: unknown type, missing secretName, empty key, object the parameters do not mount",
    yaml:
      `${header}spec:\n  provider: reference\n${objects}  secretObjects:\n` +
      "    - secretName: creds\n      type: Opak\n      data:\n" +
      "        - objectName: db-username\n          key: username\n" +
      '        - objectName: username\n          key: ""\n' +
      "    - type: Opaque\n      data: []\n",
    expected: [
      '14: spec.secretObjects[0].type "Opak" is not a Secret type the driver syncs (Opaque, ' +
        "kubernetes.io/basic-auth, bootstrap.kubernetes.io/token, kubernetes.io/dockerconfigjson, " +
        "kubernetes.io/dockercfg, kubernetes.io/ssh-auth, kubernetes.io/service-account-token, kubernetes.io/tls)",
      '16: spec.secretObjects[0].data[0].objectName "db-username" ' +
        'is not a file the "objects" parameter mounts (username, tls)',
      "19: spec.secretObjects[0].data[1].key is not set",
      "20: spec.secretObjects[1].secretName is not set",
      "21: spec.secretObjects[1].data is empty: the Secret would have no keys"
    ]
  },
  {
    name: "kubernetes.io/tls with a key other than tls.crt/tls.key (indentless lists)",
    yaml:
      `${header}spec:\n  provider: reference\n${objects}  secretObjects:\n` +
      "  - secretName: tls\n    type: kubernetes.io/tls\n    data:\n" +
      "    - objectName: tls\n      key: tls.crt\n    - objectName: tls\n      key: cert.pem\n",
    expected: [
      '19: spec.secretObjects[0].data[1].key "cert.pem": a kubernetes.io/tls Secret takes only tls.crt and tls.key'
    ]
  },
  {
    name: "the second document of a stream is broken; the Pod between is skipped",
    yaml:
      `${header}spec:\n  provider: reference\n${objects}---\n` +
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\n---\n" +
      `# second class\n${header}spec:\n  provider: reference\n`,
    expected: [
      "1: ok default/app (provider reference)",
      "13: skipped Pod default/app",
      '23: spec.parameters is empty: the mount fails with "parameters not set"'
    ]
  },
  {
    name: "YAML that does not parse",
    yaml: `${header}spec:\n  provider: reference\n  parameters: {a: [1, 2\n`,
    expected: ["1: not valid YAML"]
  },
  {
    name: "a file without any SecretProviderClass",
    yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    expected: ["1: skipped ConfigMap default/x", "1: no SecretProviderClass in this file"]
  }
]

describe("secrets-store validate", () => {
  it.each(cases)("$name", async ({ expected, name, yaml }) => {
    const file = path.join(dir, `${name.replace(/\W+/g, "-")}.yaml`)
    fs.writeFileSync(file, yaml)
    const { code, output } = await runProgram("cli/main.js", ["validate", file])
    const lines = output.trimEnd().split("\n")
    expect(lines).toHaveLength(expected.length)
    expected.forEach((line, i) => expect(lines[i]).toContain(`${file}:${line}`))
    expect(code).toBe(1)
  })

  it("the repo's example classes pass: one ok line each, exit 0", async () => {
    const files = ["reference", "vault", "azure"].map((example) => `examples/${example}/secretproviderclass.yaml`)
    const { code, output } = await runProgram("cli/main.js", ["validate", ...files])
    // Line numbers are the examples' own (their comment headers may change): the first content line.
    const lines = output.trimEnd().split("\n")
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(
      /^examples\/reference\/secretproviderclass\.yaml:\d+: ok default\/example-reference \(provider reference\)$/
    )
    expect(lines[1]).toMatch(
      /^examples\/vault\/secretproviderclass\.yaml:\d+: ok default\/example-vault \(provider vault\)$/
    )
    expect(lines[2]).toMatch(
      /^examples\/azure\/secretproviderclass\.yaml:\d+: ok default\/example-azure \(provider azure\)$/
    )
    for (const [i, file] of files.entries()) {
      const firstContent = fs
        .readFileSync(path.join(repoRoot, file), "utf8")
        .split("\n")
        .findIndex((l) => l.trim() !== "" && !l.startsWith("#"))
      expect(lines[i]).toContain(`${file}:${firstContent + 1}:`)
    }
    expect(code).toBe(0)
  })
})
