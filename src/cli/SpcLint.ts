// What upstream only finds out at mount or sync time (docs/upstream.md#publish-spc-lookup, #secretproviderclass,
// #secret-sync-reconcile), checked on a SecretProviderClass document before it reaches a cluster. Pure: a parsed
// document in, problems with the YAML path they are about out.
import * as Yaml from "effect/encoding/Yaml"
import { group } from "../domain/SecretProviderClass.js"
import { isValidProviderName } from "../provider/providerSocket.js"
import type { YamlPath } from "./YamlLines.js"

export interface Problem {
  readonly path: YamlPath
  readonly message: string
}

/** The Secret types upstream documents for secretObjects (docs/upstream.md#secretproviderclass). */
const secretTypes: ReadonlyArray<string> = [
  "Opaque",
  "kubernetes.io/basic-auth",
  "bootstrap.kubernetes.io/token",
  "kubernetes.io/dockerconfigjson",
  "kubernetes.io/dockercfg",
  "kubernetes.io/ssh-auth",
  "kubernetes.io/service-account-token",
  "kubernetes.io/tls"
]

const apiVersions = [`${group}/v1`, `${group}/v1alpha1`]
const tlsKeys = ["tls.crt", "tls.key"]

type Json = Record<string, unknown>
const isRecord = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)
const text = (u: unknown) => (typeof u === "string" ? u.trim() : "")
const problem = (path: YamlPath, message: string): Problem => ({ path, message })

const checkHeader = (doc: Json): Array<Problem> => [
  ...(apiVersions.includes(String(doc["apiVersion"]))
    ? []
    : [
        problem(
          ["apiVersion"],
          `apiVersion ${JSON.stringify(doc["apiVersion"] ?? "")} is not one of ${apiVersions.join(", ")}`
        )
      ]),
  ...(doc["kind"] === "SecretProviderClass" ? [] : [problem(["kind"], `kind must be SecretProviderClass`)]),
  ...(isRecord(doc["metadata"]) && text(doc["metadata"]["name"]) !== ""
    ? []
    : [problem(["metadata"], "metadata.name is not set")])
]

const checkProvider = (spec: Json): Array<Problem> => {
  const provider = spec["provider"]
  if (text(provider) === "")
    return [problem(["spec", "provider"], 'spec.provider is not set: the mount fails with "provider not set"')]
  return isValidProviderName(String(provider))
    ? []
    : [
        problem(
          ["spec", "provider"],
          `spec.provider ${JSON.stringify(provider)} must match ^[a-zA-Z0-9_-]{0,30}$ ` +
            "(it names the socket <provider>.sock)"
        )
      ]
}

const checkParameters = (spec: Json): Array<Problem> => {
  const parameters = spec["parameters"]
  if (!isRecord(parameters) || Object.keys(parameters).length === 0) {
    return [problem(["spec", "parameters"], 'spec.parameters is empty: the mount fails with "parameters not set"')]
  }
  return Object.entries(parameters)
    .filter(([, value]) => typeof value !== "string")
    .map(([key, value]) =>
      problem(
        ["spec", "parameters", key],
        `spec.parameters.${key} is a ${value === null ? "null" : typeof value}, not a string: quote it`
      )
    )
}

/** File names an `objects` parameter in the common list convention mounts; undefined when it is not one. */
const objectFileNames = (parameters: unknown): ReadonlySet<string> | undefined => {
  const raw = isRecord(parameters) ? parameters["objects"] : undefined
  if (typeof raw !== "string") return undefined
  try {
    let parsed = Yaml.parse(raw)
    // Azure's form: `array:` of YAML strings, one object each.
    if (isRecord(parsed) && Array.isArray(parsed["array"])) {
      parsed = parsed["array"].map((item) => (typeof item === "string" ? Yaml.parse(item) : item))
    }
    if (
      !Array.isArray(parsed) ||
      parsed.length === 0 ||
      !parsed.every((item) => isRecord(item) && text(item["objectName"]) !== "")
    ) {
      return undefined
    }
    return new Set((parsed as Array<Json>).flatMap(fileNamesOf))
  } catch {
    return undefined
  }
}

/** fileName (reference, GCP style), objectAlias (Azure, AWS), else objectName; AWS jmesPath aliases too. */
const fileNamesOf = (item: Json): Array<string> => [
  text(item["fileName"]) || text(item["objectAlias"]) || text(item["objectName"]),
  ...(Array.isArray(item["jmesPath"])
    ? item["jmesPath"]
        .filter(isRecord)
        .map((p) => text(p["objectAlias"]))
        .filter((s) => s !== "")
    : [])
]

const checkData = (
  at: YamlPath,
  type: string,
  data: unknown,
  files: ReadonlySet<string> | undefined
): Array<Problem> => {
  if (!Array.isArray(data) || data.length === 0)
    return [problem([...at, "data"], `${describe(at)}.data is empty: the Secret would have no keys`)]
  return data.flatMap((item: unknown, j) => {
    const here = [...at, "data", j]
    const entry = isRecord(item) ? item : {}
    const objectName = text(entry["objectName"])
    const key = text(entry["key"])
    return [
      ...(objectName === "" ? [problem([...here, "objectName"], `${describe(here)}.objectName is not set`)] : []),
      ...(key === "" ? [problem([...here, "key"], `${describe(here)}.key is not set`)] : []),
      ...(type === "kubernetes.io/tls" && key !== "" && !tlsKeys.includes(key)
        ? [
            problem(
              [...here, "key"],
              `${describe(here)}.key ${JSON.stringify(key)}: a kubernetes.io/tls Secret takes only tls.crt and tls.key`
            )
          ]
        : []),
      ...(files !== undefined && objectName !== "" && !files.has(objectName)
        ? [
            problem(
              [...here, "objectName"],
              `${describe(here)}.objectName ${JSON.stringify(objectName)} ` +
                `is not a file the "objects" parameter mounts (${[...files].join(", ")})`
            )
          ]
        : [])
    ]
  })
}

const describe = (path: YamlPath) =>
  path
    .map((segment) => (typeof segment === "number" ? `[${segment}]` : `.${segment}`))
    .join("")
    .slice(1)

const checkSecretObjects = (spec: Json): Array<Problem> => {
  const objects = spec["secretObjects"]
  if (objects === undefined || objects === null) return []
  if (!Array.isArray(objects)) return [problem(["spec", "secretObjects"], "spec.secretObjects must be a list")]
  const files = objectFileNames(spec["parameters"])
  return objects.flatMap((object: unknown, i) => {
    const at = ["spec", "secretObjects", i]
    const entry = isRecord(object) ? object : {}
    const type = text(entry["type"])
    return [
      ...(text(entry["secretName"]) === ""
        ? [problem([...at, "secretName"], `${describe(at)}.secretName is not set`)]
        : []),
      ...(type === ""
        ? [problem([...at, "type"], `${describe(at)}.type is not set (the sync controller requires it; use Opaque)`)]
        : secretTypes.includes(type)
          ? []
          : [
              problem(
                [...at, "type"],
                `${describe(at)}.type ${JSON.stringify(type)} ` +
                  `is not a Secret type the driver syncs (${secretTypes.join(", ")})`
              )
            ]),
      ...checkData(at, type, entry["data"], files)
    ]
  })
}

/** Every problem of one SecretProviderClass document, in document order. */
export const lintClass = (doc: unknown): Array<Problem> => {
  if (!isRecord(doc)) return [problem([], "the document is not a mapping")]
  const spec = isRecord(doc["spec"]) ? doc["spec"] : {}
  return [...checkHeader(doc), ...checkProvider(spec), ...checkParameters(spec), ...checkSecretObjects(spec)]
}
