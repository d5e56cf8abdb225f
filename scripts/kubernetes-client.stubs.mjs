// Stand-ins for the parts of client-node's KubeConfig that the driver never runs, swapped in when
// scripts/bundle-kubernetes-client.mjs builds vendor/kubernetes-client.js:
// - undici (~9 MiB RSS): KubeConfig builds fetch dispatchers with it in applySecurityAuthentication, for the
//   generated API clients; the driver authenticates through applyToHTTPSOptions and speaks node:https
//   (src/k8s/KubeTransport.ts).
// - the generated API code (./gen/index.js, ~0.9 MB of source): only makeApiClient uses it.
// Anything that does reach these fails loudly instead of misbehaving.
const unavailable = (name) => {
  throw new Error(`${name} is not bundled: the driver speaks raw REST over node:https (src/k8s/KubeTransport.ts)`)
}

export class Agent {
  constructor() {
    unavailable("undici.Agent")
  }
}

export class ProxyAgent {
  constructor() {
    unavailable("undici.ProxyAgent")
  }
}

export class ServerConfiguration {
  constructor() {
    unavailable("client-node's generated API (ServerConfiguration)")
  }
}

export const createConfiguration = () => unavailable("client-node's generated API (createConfiguration)")
