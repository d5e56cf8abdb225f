// A gRPC server for unary services (ts-proto definitions, nice-grpc implementations and middleware) that
// accepts on its own net.Server with a deep listen backlog and hands each connection to grpc-js through its
// connection injector: grpc-js binds with Node's default backlog of 511, and kubelet can connect faster.
import * as net from "node:net"
import * as grpc from "@grpc/grpc-js"
import {
  type CallContext,
  Metadata,
  ServerError,
  type ServerMiddleware,
  type ServiceImplementation,
  Status,
  type TsProtoServiceDefinition
} from "nice-grpc"

/**
 * Pending connections the kernel queues before the accept loop takes them. listen(2) caps it at
 * net.core.somaxconn (4096 by default since Linux 5.4), so the node's setting decides how deep it is.
 */
const LISTEN_BACKLOG = 65_535

export type ListenAddress = { readonly path: string } | { readonly host: string; readonly port: number }

export interface UnaryGrpcServer {
  readonly add: <D extends TsProtoServiceDefinition>(definition: D, implementation: ServiceImplementation<D>) => void
  /** Resolves to the bound TCP port, or 0 on a unix socket. */
  readonly listen: (address: ListenAddress) => Promise<number>
  /** Stops accepting and waits for the calls in flight to finish. */
  readonly shutdown: () => Promise<void>
  /** Stops accepting and cuts every connection; the calls in flight see their signal abort. */
  readonly forceShutdown: () => void
}

type Handler = (request: unknown, context: CallContext) => Promise<unknown>
type Codec = TsProtoServiceDefinition["methods"][string]["requestType"]

const encoder = (type: Codec) => (value: unknown) =>
  Buffer.from(type.encode(type.fromPartial ? type.fromPartial(value) : value).finish())

const toGrpcMetadata = (metadata: Metadata) => {
  const result = new grpc.Metadata()
  for (const [key, values] of metadata) {
    for (const value of values) result.add(key, typeof value === "string" ? value : Buffer.from(value))
  }
  return result
}

const fromGrpcMetadata = (metadata: grpc.Metadata) => {
  const result = Metadata()
  for (const key of Object.keys(metadata.getMap())) result.set(key, metadata.get(key) as Array<string>)
  return result
}

// The same status nice-grpc's own server gives each kind of failure.
const errorStatus = (path: string, error: unknown, trailer: Metadata): Partial<grpc.StatusObject> => {
  const metadata = toGrpcMetadata(trailer)
  if (error instanceof ServerError) return { code: error.code, details: error.details, metadata }
  if (error instanceof Error && error.name === "AbortError") {
    return { code: Status.CANCELLED, details: "The operation was cancelled", metadata }
  }
  const text = error instanceof Error ? error.stack : String(error)
  process.emitWarning(`${path}: uncaught error in a server method: ${text}`)
  return { code: Status.UNKNOWN, details: "Unknown server error occurred", metadata }
}

/** The call's context; its signal aborts when the client cancels or the connection is cut before the reply. */
const callContext = (call: grpc.ServerUnaryCall<unknown, unknown>) => {
  const controller = new AbortController()
  let answered = false
  if (call.cancelled) controller.abort()
  else
    call.on("cancelled", () => {
      if (!answered) controller.abort()
    })
  let headerSent = false
  const header = Metadata()
  const context: CallContext = {
    metadata: fromGrpcMetadata(call.metadata),
    peer: call.getPeer(),
    header,
    sendHeader: () => {
      if (headerSent) return
      headerSent = true
      if ([...header].length > 0) call.sendMetadata(toGrpcMetadata(header))
    },
    trailer: Metadata(),
    signal: controller.signal
  }
  return {
    context,
    answered: () => {
      answered = true
    }
  }
}

interface Method {
  readonly path: string
  readonly options: TsProtoServiceDefinition["methods"][string]["options"]
  readonly handler: Handler
}

type Middleware = ServerMiddleware | undefined

const runUnary = async (method: Method, middleware: Middleware, request: unknown, context: CallContext) => {
  const { path, options, handler } = method
  async function* last(request: unknown, context: CallContext): AsyncGenerator<never, unknown, undefined> {
    return await handler(request, context)
  }
  if (middleware === undefined) return handler(request, context)
  const descriptor = { path, requestStream: false, responseStream: false, options }
  const call = { method: descriptor, requestStream: false, request, responseStream: false, next: last } as const
  const steps = middleware(call, context)
  const result = await steps.next()
  if (!result.done) throw new Error(`${path}: a middleware yielded a message in a unary call`)
  if (result.value == null) throw new Error(`${path}: a middleware returned no message in a unary call`)
  return result.value
}

const unaryHandler =
  (method: Method, middleware: Middleware): grpc.handleUnaryCall<unknown, unknown> =>
  (call, callback) => {
    const { context, answered } = callContext(call)
    runUnary(method, middleware, call.request, context).then(
      (response) => {
        answered()
        context.sendHeader()
        callback(null, response, toGrpcMetadata(context.trailer))
      },
      (error: unknown) => {
        answered()
        context.sendHeader()
        callback(errorStatus(method.path, error, context.trailer))
      }
    )
  }

export interface UnaryGrpcServerOptions {
  readonly middleware?: ServerMiddleware
  readonly grpc?: grpc.ServerOptions
}

export const createUnaryGrpcServer = (options: UnaryGrpcServerOptions = {}): UnaryGrpcServer => {
  const server = new grpc.Server(options.grpc)
  let listener: net.Server | undefined
  /** Resolves once every connection it accepted has closed. */
  const stopAccepting = () =>
    new Promise<void>((resolve) => {
      if (listener === undefined) return resolve()
      listener.close(() => resolve())
      listener = undefined
    })
  return {
    add: (definition, implementation) => {
      const methods: Record<string, grpc.MethodDefinition<unknown, unknown>> = {}
      const handlers: grpc.UntypedServiceImplementation = {}
      for (const [key, method] of Object.entries(definition.methods)) {
        if (method.requestStream || method.responseStream) {
          throw new Error(`${definition.fullName}.${method.name} is not unary`)
        }
        const path = `/${definition.fullName}/${method.name}`
        methods[key] = {
          path,
          requestStream: false,
          responseStream: false,
          requestSerialize: encoder(method.requestType),
          requestDeserialize: (bytes) => method.requestType.decode(bytes),
          responseSerialize: encoder(method.responseType),
          responseDeserialize: (bytes) => method.responseType.decode(bytes)
        }
        const handler = (implementation as Record<string, Handler>)[key]!.bind(implementation)
        handlers[key] = unaryHandler({ path, options: method.options, handler }, options.middleware)
      }
      server.addService(methods, handlers)
    },
    listen: (address) =>
      new Promise((resolve, reject) => {
        const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure())
        const accepting = net.createServer((socket) => injector.injectConnection(socket))
        accepting.once("error", reject)
        accepting.listen({ ...address, backlog: LISTEN_BACKLOG }, () => {
          accepting.removeListener("error", reject)
          // An accept failure (EMFILE) loses that one connection; it must not crash the server.
          accepting.on("error", (error) => process.emitWarning(`accepting a gRPC connection failed: ${error.message}`))
          listener = accepting
          const bound = accepting.address()
          resolve(typeof bound === "object" && bound !== null ? bound.port : 0)
        })
      }),
    // grpc-js does not wait for the calls on injected connections (its own listener's close did the waiting, by
    // counting connections), so the accepting server's close is what waits for them to end.
    shutdown: async () => {
      await Promise.all([
        stopAccepting(),
        new Promise<void>((resolve, reject) => server.tryShutdown((error) => (error ? reject(error) : resolve())))
      ])
    },
    forceShutdown: () => {
      void stopAccepting()
      server.forceShutdown()
    }
  }
}
