// node:http, loaded through require. Any ESM import of node:http (default, named or namespace) builds its ESM facade,
// which reads every export, including the lazy http.WebSocket/CloseEvent/MessageEvent getters that load Node's
// bundled undici: ~13 MiB RSS for a WebSocket client the driver never uses. require() reads none of them.
import { createRequire } from "node:module"

export const http: typeof import("node:http") = createRequire(import.meta.url)("node:http")
