// Watches of the fake API server: newline-delimited JSON events on a chunked response, resumable from a
// resourceVersion while the history holds it, 410 Expired once it does not, and optional connection drops.
import type { ServerResponse } from "node:http"
import { present, statusBody, type Target } from "./FakeApiRoutes.js"
import { type FakeApiStore, matchesFields, matchesLabels, metaOf, type StoredEvent } from "./FakeApiStore.js"

export interface WatchBehaviour {
  /** End the response after this many events (the client must resume from the last resourceVersion). */
  readonly dropAfter: number | undefined
  /**
   * How a too-old resourceVersion is answered: "event" is what a real API server with the watch cache does
   * (HTTP 200, then an ERROR event carrying a 410 Expired Status); "status" answers HTTP 410 directly.
   */
  readonly expiredAs: "event" | "status"
}

const expiredMessage = (requested: number, store: FakeApiStore) =>
  `too old resource version: ${requested} (${store.compactedRevision})`

export const serveWatch = (
  store: FakeApiStore,
  t: Target,
  query: URLSearchParams,
  res: ServerResponse,
  behaviour: WatchBehaviour
): void => {
  const matches = (e: StoredEvent) =>
    e.resource === t.resource &&
    (t.namespace === undefined || metaOf(e.object).namespace === t.namespace) &&
    matchesLabels(query.get("labelSelector"), metaOf(e.object).labels) &&
    matchesFields(query.get("fieldSelector"), e.object)

  const rvParam = query.get("resourceVersion") ?? ""
  const from = /^\d+$/.test(rvParam) ? Number(rvParam) : 0
  // "" and "0" mean "the current state, then changes": synthetic ADDED events for what exists now.
  const backlog: ReadonlyArray<StoredEvent> | undefined =
    from === 0
      ? store.list(t.resource, t.namespace).map((object) => ({
          rv: Number(metaOf(object).resourceVersion),
          type: "ADDED" as const,
          resource: t.resource,
          object
        }))
      : store.eventsSince(from)

  if (backlog === undefined && behaviour.expiredAs === "status") {
    const body = JSON.stringify(statusBody(410, expiredMessage(from, store), "Expired"))
    res.writeHead(410, { "content-type": "application/json" }).end(body)
    return
  }
  res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" })
  // Like the real server: the client sees the 200 at once, not with the first event.
  res.flushHeaders()
  if (backlog === undefined) {
    const status = statusBody(410, expiredMessage(from, store), "Expired")
    res.end(`${JSON.stringify({ type: "ERROR", object: status })}\n`)
    return
  }

  let sent = 0
  let unsubscribe = () => {}
  const send = (e: StoredEvent) => {
    if (res.writableEnded || !matches(e)) return
    res.write(`${JSON.stringify({ type: e.type, object: present(t, e.object) })}\n`)
    sent++
    if (behaviour.dropAfter !== undefined && sent >= behaviour.dropAfter) res.end()
  }
  for (const e of backlog) send(e)
  if (res.writableEnded) return
  unsubscribe = store.subscribe(send)

  const timeoutSeconds = Number(query.get("timeoutSeconds") ?? "")
  const timer = timeoutSeconds > 0 ? setTimeout(() => res.end(), timeoutSeconds * 1000) : undefined
  res.on("close", () => {
    unsubscribe()
    if (timer !== undefined) clearTimeout(timer)
  })
  res.on("finish", () => unsubscribe())
}
