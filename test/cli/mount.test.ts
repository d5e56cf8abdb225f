// `secrets-store mount`, `unmount` and `watch` end to end: the built CLI and the reference provider as child
// processes, real tmpfs (we are root), output compared with goldens after normalising the pod uid, the temp
// dir and timestamps.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import {
  eventually,
  repoRoot,
  runProgram,
  startProgram,
  waitForFile,
  type RunningProcess
} from "../support/ChildProcess.js"
import { restartDigest } from "../../src/publish/RotationChanges.js"

const referenceClass = path.join(repoRoot, "examples", "reference", "secretproviderclass.yaml")
const vaultClass = path.join(repoRoot, "examples", "vault", "secretproviderclass.yaml")
const secretValues = ["not-a-real-password", "featureFlags", "rotated-password"]

let dir: string
let provider: RunningProcess
const providers = () => path.join(dir, "providers")
/** kubelet's target path for pod `pod` under this test's kubelet root: the only shape the CLI mounts at. */
const vol = (pod: string) => path.join(dir, "kubelet", "pods", pod, "volumes", "kubernetes.io~csi", "secrets", "mount")
const store = () => path.join(dir, "store.yaml")

const normalise = (text: string) =>
  text
    .split(dir)
    .join("<tmp>")
    .replace(/uid [0-9a-f-]{36}/g, "uid <uid>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "<time>")

const cli = (...args: ReadonlyArray<string>) => runProgram("cli/main.js", args)
const mountArgs = (target: string, ...extra: ReadonlyArray<string>) => [
  "mount",
  "--class",
  referenceClass,
  "--target",
  target,
  "--provider-dir",
  providers(),
  ...extra
]
const isMounted = (target: string) => fs.readFileSync("/proc/self/mountinfo", "utf8").includes(` ${target} `)

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-mount-"))
  fs.mkdirSync(providers())
  fs.copyFileSync(path.join(repoRoot, "examples", "reference", "store.yaml"), store())
  provider = startProgram("reference-provider/main.js", [`--provider-dir=${providers()}`, `--store=${store()}`])
  await waitForFile(path.join(providers(), "reference.sock"))
})

afterAll(async () => {
  await provider?.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const t1Shown = "<tmp>/kubelet/pods/t1/volumes/kubernetes.io~csi/secrets/mount"
const mountGolden = `mounted default/example-reference (provider reference) at ${t1Shown} (tmpfs) via this process
pod default/local-pod uid <uid> service account default
FILE             MODE  BYTES  VALUE
config/app.json  0644     29  <redacted>
password         0640     19  <redacted>
username         0644      3  <redacted>
OBJECT              VERSION
secret/app-config   3
secret/db-password  1
secret/db-username  1
`

describe("secrets-store mount / unmount", () => {
  it("mount publishes onto a real tmpfs, prints the tree with values redacted and exits 0", async () => {
    const target = vol("t1")
    const { code, output } = await cli(...mountArgs(target))
    expect(normalise(output)).toBe(mountGolden)
    expect(code).toBe(0)
    expect(isMounted(target)).toBe(true)
    expect(fs.readFileSync(path.join(target, "password"), "utf8")).toBe("not-a-real-password")
    expect(fs.statSync(path.join(target, "password")).mode & 0o777).toBe(0o640)
    expect(fs.readFileSync(path.join(target, "config", "app.json"), "utf8")).toBe('{"featureFlags":["rotation"]}')
    expect(fs.readlinkSync(path.join(target, "username"))).toBe("..data/username")
    for (const value of secretValues) expect(output).not.toContain(value)
  })

  it("mount again over the mounted target re-fetches; --show-values prints the contents", async () => {
    const { code, output } = await cli(
      ...mountArgs(vol("t1"), "--show-values", "--token", "=jwt-for-the-default-audience", "--secret", "k=v")
    )
    expect(code).toBe(0)
    expect(output).toContain(`password         0640     19  "not-a-real-password"`)
    expect(output).toContain(`config/app.json  0644     29  "{\\"featureFlags\\":[\\"rotation\\"]}"`)
    expect(output).not.toContain("jwt-for-the-default-audience")
  })

  it("relative --class, --target and --provider-dir work as the npm start banner prints them", async () => {
    const relative = (file: string) => `./${path.relative(repoRoot, file)}`
    const target = vol("t-relative")
    const { code, output } = await cli(
      "mount",
      "--class",
      relative(referenceClass),
      "--target",
      relative(target),
      "--provider-dir",
      relative(providers())
    )
    expect(normalise(output)).toContain(
      "at <tmp>/kubelet/pods/t-relative/volumes/kubernetes.io~csi/secrets/mount (tmpfs)"
    )
    expect(code).toBe(0)
    expect((await cli("unmount", "--target", relative(target))).code).toBe(0)
    expect(fs.existsSync(target)).toBe(false)
  })

  it("unmount removes the tmpfs and the directory, and a second unmount still succeeds", async () => {
    const target = vol("t1")
    const first = await cli("unmount", "--target", target)
    expect(normalise(first.output)).toBe(`unmounted ${t1Shown}\n`)
    expect(first.code).toBe(0)
    expect(isMounted(target)).toBe(false)
    expect(fs.existsSync(target)).toBe(false)
    expect((await cli("unmount", "--target", target)).code).toBe(0)
  })

  it("a target that is not kubelet's volume path: exit 1, one line naming the shape, nothing created", async () => {
    const target = path.join(dir, "plain-dir")
    const { code, output } = await cli(...mountArgs(target))
    expect(normalise(output)).toBe(
      'InvalidRequest: --target "<tmp>/plain-dir" must be kubelet\'s volume path ' +
        "<root>/pods/<pod>/volumes/kubernetes.io~csi/<volume>/mount\n"
    )
    expect(code).toBe(1)
    expect(fs.existsSync(target)).toBe(false)
  })

  it("a provider that is not there: exit 2, one reason line, nothing left behind", async () => {
    const target = vol("t-vault")
    const { code, output } = await cli(
      "mount",
      "--class",
      vaultClass,
      "--target",
      target,
      "--provider-dir",
      providers()
    )
    expect(output).toBe('ProviderNotFound: provider not found: provider "vault"\n')
    expect(code).toBe(2)
    expect(fs.existsSync(target)).toBe(false)
  })

  it.each([
    [
      ["mount", "--class", referenceClass, "--target", "x", "--bogus"],
      "InvalidRequest: Unrecognized flag: --bogus in command secrets-store mount (see secrets-store mount --help)\n"
    ],
    [
      ["mount", "--class", referenceClass],
      "InvalidRequest: Missing required flag: --target (see secrets-store mount --help)\n"
    ],
    [
      ["mount", "--class", referenceClass, "--target", "x", "--token", "no-equals-sign"],
      'InvalidRequest: --token must be KEY=VALUE (item 1 has no "=")\n'
    ],
    [
      ["mount", "--class", "/nonexistent/spc.yaml", "--target", "x"],
      "InvalidSecretProviderClass: /nonexistent/spc.yaml:1: cannot read the file (ENOENT)\n"
    ],
    [
      ["watch", "--class", referenceClass, "--target", "x", "--interval", "soon"],
      'InvalidRequest: --interval "soon" must be a positive Go duration such as 500ms, 10s or 1m\n'
    ]
  ])("user error %j: exit 1 with one line", async (args, expected) => {
    const { code, output } = await cli(...args)
    expect(output).toBe(expected)
    expect(code).toBe(1)
    expect(fs.existsSync(path.join(repoRoot, "x"))).toBe(false)
  })
})

describe("secrets-store watch", () => {
  it("republishes on the interval, prints changed paths and versions (never values), unmounts on SIGINT", async () => {
    const target = vol("w")
    const watch = startProgram("cli/main.js", [
      "watch",
      "--class",
      referenceClass,
      "--target",
      target,
      "--provider-dir",
      providers(),
      "--interval",
      "300ms"
    ])
    await eventually(() => expect(watch.output()).toContain("watching: republish every 300ms"))
    fs.writeFileSync(
      store(),
      fs
        .readFileSync(store(), "utf8")
        .replace('contents: not-a-real-password\n  version: "1"', 'contents: rotated-password-22\n  version: "2"')
    )
    await eventually(() => expect(watch.output()).toContain("version  secret/db-password 1 -> 2"))
    expect(fs.readFileSync(path.join(target, "password"), "utf8")).toBe("rotated-password-22")
    const exit = await watch.stop("SIGINT")
    expect(exit.code).toBe(0)
    const digest = restartDigest({ namespace: "default", name: "example-reference" }, [
      { id: "secret/app-config", version: "3" },
      { id: "secret/db-password", version: "2" },
      { id: "secret/db-username", version: "1" }
    ])
    expect(normalise(watch.output())).toContain(
      "<time> changed  password (0640, 19 bytes)\n<time> version  secret/db-password 1 -> 2\n" +
        "<time> event    Normal SecretRotated pod default/local-pod: " +
        "SecretProviderClass default/example-reference rotated: secret/db-password: 1 -> 2\n" +
        '<time> restart  off (secrets-store.csi.k8s.io/restart-on-rotation is not "true"); it would write ' +
        `secrets-store.csi.k8s.io/restartedAt=${digest}\n` +
        "unmounted <tmp>/kubelet/pods/w/volumes/kubernetes.io~csi/secrets/mount\n"
    )
    expect(isMounted(target)).toBe(false)
    expect(fs.existsSync(target)).toBe(false)
    for (const value of secretValues) expect(watch.output()).not.toContain(value)
  })
})
