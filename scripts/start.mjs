#!/usr/bin/env node
// `npm start`: the built driver in standalone mode on ./run/csi.sock (SecretProviderClasses from examples/reference,
// no cluster) and the reference provider on ./run/providers, then the exact command to try. Ctrl-C stops both.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const started = Date.now()
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const runDir = path.resolve("run")
const providerDir = path.join(runDir, "providers")
const csiSocket = path.join(runDir, "csi.sock")
// The driver acts only on kubelet's volume paths under its kubelet root: ./run/kubelet stands in for /var/lib/kubelet.
const kubeletRoot = path.join(runDir, "kubelet")
/** kubelet's target path of volume `volume` of pod `pod`. */
const volumePath = (pod, volume) => path.join(kubeletRoot, "pods", pod, "volumes", "kubernetes.io~csi", volume, "mount")
const providerSocket = path.join(providerDir, "reference.sock")
const classesDir = path.join(repo, "examples", "reference")
const metricsAddr = process.env.SECRETS_STORE_METRICS_ADDR ?? "127.0.0.1:8095"
// The shipped entries: package.json's bin, the bundles of dist/bin/ (scripts/bundle-programs.mjs).
const bins = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8")).bin
const shipped = (name) => path.join(repo, bins[name])
// The project's Node 24 (node_modules/.bin/node) even when this script was started by an older system node.
const localNode = path.join(repo, "node_modules", ".bin", "node")
const nodeBin = fs.existsSync(localNode) ? localNode : process.execPath

// Shown relative to the repo when we run there (the usual `npm start`), absolute otherwise.
const shown = (file) => (process.cwd() === repo ? `./${path.relative(repo, file)}` : file)

const ensureBuilt = () => {
  if (Object.keys(bins).every((name) => fs.existsSync(shipped(name)))) return
  console.log("building dist/bin/ (npm run build) ...")
  const build = spawnSync("npm", ["run", "build"], { cwd: repo, stdio: "inherit" })
  if (build.status !== 0) process.exit(build.status ?? 1)
}

/** A child whose output lines are prefixed with its name, so the two logs stay readable side by side. */
const startChild = (name, args) => {
  const child = spawn(nodeBin, args, { cwd: process.cwd(), stdio: ["ignore", "pipe", "pipe"] })
  const prefix = (stream, out) => {
    let pending = ""
    stream.on("data", (chunk) => {
      const lines = (pending + chunk.toString()).split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) out.write(`[${name}] ${line}\n`)
    })
  }
  prefix(child.stdout, process.stdout)
  prefix(child.stderr, process.stderr)
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })))
  return { name, child, exited }
}

const waitFor = async (file, children, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (!fs.existsSync(file)) {
    const dead = children.find((c) => c.child.exitCode !== null || c.child.signalCode !== null)
    if (dead !== undefined) throw new Error(`${dead.name} exited before ${file} appeared`)
    if (Date.now() > deadline) throw new Error(`${file} did not appear within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

const stopAll = async (children) => {
  for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill("SIGTERM")
  const killer = setTimeout(() => children.forEach((c) => c.child.kill("SIGKILL")), 10_000)
  await Promise.all(children.map((c) => c.exited))
  clearTimeout(killer)
  // The servers remove their own sockets on a clean stop; this covers a SIGKILL.
  for (const socket of [csiSocket, providerSocket]) fs.rmSync(socket, { force: true })
}

const banner = (readyMs) => {
  const target = volumePath("example", "example-reference")
  const spc = path.join(classesDir, "secretproviderclass.yaml")
  const local = `--provider-dir ${shown(providerDir)} --class ${shown(spc)}`
  return [
    "",
    `secrets-store is running (ready in ${readyMs} ms), standalone: no cluster, no API server`,
    `  driver    unix://${shown(csiSocket)}  classes from ${shown(classesDir)}, metrics http://${metricsAddr}/metrics`,
    `  kubelet root ${shown(kubeletRoot)}: targets are <root>/pods/<pod>/volumes/kubernetes.io~csi/<volume>/mount`,
    `  provider  ${shown(providerSocket)}  store ${shown(path.join(classesDir, "store.yaml"))}`,
    ...(process.cwd() === repo ? [] : [`Run these in ${repo}:`]),
    "Try it (another terminal):",
    `  npx secrets-store mount --endpoint unix://${shown(csiSocket)} --class ${shown(spc)} --target ${shown(target)}`,
    `  cat ${shown(path.join(target, "username"))}`,
    `  npx secrets-store unmount --endpoint unix://${shown(csiSocket)} --target ${shown(target)}`,
    "Without the driver in between (same publish path, in the CLI's process), and a rotation watch:",
    `  npx secrets-store mount ${local} --target ${shown(volumePath("direct", "example-reference"))} --show-values`,
    `  npx secrets-store watch ${local} --target ${shown(volumePath("watch", "example-reference"))} --interval 2s`,
    `  npx secrets-store validate ${shown(spc)}`,
    "Stop: Ctrl-C (stops the driver and the provider and removes their sockets).",
    ""
  ].join("\n")
}

const main = async () => {
  ensureBuilt()
  if (process.getuid?.() !== 0) {
    console.log(
      "note: not root, so the driver cannot mount tmpfs; " +
        "`secrets-store mount` without --endpoint still works over a plain directory"
    )
  }
  fs.mkdirSync(providerDir, { recursive: true })
  const provider = startChild("provider", [
    shipped("secrets-store-reference-provider"),
    `--provider-dir=${providerDir}`,
    "--name=reference",
    `--store=${path.join(classesDir, "store.yaml")}`
  ])
  const driver = startChild("driver", [
    shipped("secrets-store-csi-driver"),
    `--endpoint=unix://${csiSocket}`,
    `--kubelet-root-dir=${kubeletRoot}`,
    `--nodeid=${os.hostname()}`,
    `--standalone-classes=${classesDir}`,
    `--provider-volume=${providerDir}`,
    "--additional-provider-volume-paths=",
    `--metrics-addr=${metricsAddr}`
  ])
  const children = [provider, driver]
  let stopping = false
  const stop = (code) => {
    if (stopping) return
    stopping = true
    void stopAll(children).then(() => {
      console.log(`stopped the driver and the provider; removed ${shown(csiSocket)} and ${shown(providerSocket)}`)
      process.exit(code)
    })
  }
  process.on("SIGINT", () => stop(0))
  process.on("SIGTERM", () => stop(0))
  for (const c of children)
    void c.exited.then(({ code, signal }) => {
      if (stopping) return
      console.error(`${c.name} exited unexpectedly (code ${code}, signal ${signal}); stopping`)
      stop(1)
    })
  try {
    await Promise.all([waitFor(providerSocket, children), waitFor(csiSocket, children)])
  } catch (error) {
    console.error(`npm start: ${error.message}`)
    return stop(1)
  }
  console.log(banner(Date.now() - started))
}

void main()
