import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler, preHandlerHookHandler, preParsingHookHandler, RouteOptions } from 'fastify'
import { flushStreamed, type Handler, type Sent } from '../http/handler.js'
import { hasBody, teeRawBody } from '../http/raw-body.js'
import { HttpRequest, type kRawBody } from '../http/request.js'
import type { HttpResponse } from '../http/response.js'
import { kApply, kExchange, kInner, kViewRoute } from '../symbols.js'
import { routeConfig } from '../http/route-config.js'
import type { Chain } from './chain.js'
import { CapturedResponse } from './captured.js'

type Done = (error: Error | null, payload?: unknown) => void

type Marked = FastifyRequest & { [kExchange]?: Exchange, [kRawBody]?: Buffer, ws?: boolean }

// View routes carry kViewRoute in their config: they run the chain in their handler.
const isViewRoute = (req: FastifyRequest): boolean => routeConfig(req)?.[kViewRoute] === true

/**
 * One request's trip through the onion. When Fastify makes the response (a
 * plain route, a 404, an error), the innermost layer lets Fastify go on, the
 * onSend hook hands the reply to the chain as a CapturedResponse and waits for
 * the final response, which it writes into the reply.
 */
class Exchange {
  readonly request: HttpRequest
  readonly reply: FastifyReply
  resolveCapture: ((response: HttpResponse) => void) | undefined
  finishSend: Done | undefined
  captured: CapturedResponse | undefined
  continueFastify: (() => void) | undefined

  constructor (request: HttpRequest, reply: FastifyReply) {
    this.request = request
    this.reply = reply
  }

  /** Waits for Fastify to produce a response, which `trigger` sets going. */
  capture (trigger: () => void): Promise<HttpResponse> {
    return new Promise((resolve) => {
      this.resolveCapture = resolve
      trigger()
    })
  }

  /** onSend: Fastify's response enters the chain. */
  captureFrom (payload: unknown, done: Done): void {
    const resolve = this.resolveCapture as (response: HttpResponse) => void
    this.resolveCapture = undefined
    this.captured = new CapturedResponse(this.reply, payload)
    this.finishSend = done
    resolve(this.captured)
  }

  /** The reply ended without reaching onSend (hijacked, client gone): let the chain finish. */
  release (): void {
    const resolve = this.resolveCapture
    if (resolve === undefined) return
    this.resolveCapture = undefined
    resolve(new CapturedResponse(this.reply, undefined))
  }

  /** Sends the chain's final response: through the waiting onSend, or as a new send. */
  deliver (handler: Handler, final: HttpResponse): Sent {
    const reply = this.reply
    const finish = this.finishSend
    if (finish === undefined) {
      if (reply.sent || reply.raw.destroyed) return
      return handler.send(reply, final)
    }
    this.finishSend = undefined
    const context = handler.options.context
    if (final !== this.captured) {
      // Middleware replaced the response: none of the old headers apply.
      for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name)
    }
    let payload: unknown
    try {
      payload = final[kApply](reply, context)
    } catch (error) {
      finish(error as Error)
      return
    }
    if (payload instanceof Promise) {
      return payload.then((ready) => { finish(null, ready); return flushStreamed(reply, ready) }, (error) => { finish(error) })
    }
    finish(null, payload)
    return flushStreamed(reply, payload)
  }
}

// Shared (no closure per request): a reply that never reached onSend (hijacked) lets its chain finish.
function releaseOnClose (this: { [kExchange]?: Exchange }): void {
  this[kExchange]?.release()
}

/**
 * Puts the middleware chain on Fastify's lifecycle for every request of the
 * context: view routes run it in their handler; other requests start it in
 * preHandler (or, when Fastify rejected them earlier, in onSend).
 */
export function installMiddleware (app: FastifyInstance, handler: Handler, chain: Chain): void {
  const context = handler.options.context

  handler.runChain = (request, reply) => {
    const exchange = new Exchange(request, reply)
    ;(request.fastify as Marked)[kExchange] = exchange
    return chain.call(request).then((final) => exchange.deliver(handler, final))
  }

  // A view error the user's Fastify error handler should answer: let Fastify run it, capture the result.
  handler.escalate = (request, error) => {
    const exchange = (request.fastify as Marked)[kExchange]
    const reply = exchange?.reply
    if (exchange === undefined || reply === undefined || exchange.finishSend !== undefined || exchange.resolveCapture !== undefined || reply.sent) return undefined
    return exchange.capture(() => { reply.send(error instanceof Error ? error : new Error(String(error), { cause: error })) })
  }

  const plainInner = (request: HttpRequest): Promise<HttpResponse> => {
    const req = request.fastify as Marked
    const exchange = req[kExchange] as Exchange
    // Django calls processView only for resolved views, not for 404s.
    if (chain.processView.length > 0 && !req.is404) return processViewThen(request, exchange).then(undefined, (error) => handler.convert(request, error))
    return continueToFastify(request, exchange)
  }

  const processViewThen = async (request: HttpRequest, exchange: Exchange): Promise<HttpResponse> => {
    const req = request.fastify
    const view = req.routeOptions.handler
    const params = { ...(req.params as Record<string, unknown> ?? {}) }
    for (const processView of chain.processView) {
      const response = await processView(request, view, [], params)
      if (response != null) return response
    }
    return await continueToFastify(request, exchange)
  }

  const continueToFastify = (request: HttpRequest, exchange: Exchange): Promise<HttpResponse> => {
    const req = request.fastify as Marked
    // Attributes middleware set (`request.session`...) are seen by the Fastify handler too
    // (for...in: no array per request; class members are not enumerable).
    for (const key in request) {
      if (key !== 'fastify' && key !== 'method') (req as unknown as Record<string, unknown>)[key] = (request as unknown as Record<string, unknown>)[key]
    }
    return exchange.capture(() => {
      const res = exchange.reply.raw as typeof exchange.reply.raw & { [kExchange]?: Exchange }
      res[kExchange] = exchange
      res.on('close', releaseOnClose)
      ;(exchange.continueFastify as () => void)()
    })
  }

  const preHandler: preHandlerHookHandler = function (req, reply, done) {
    const marked = req as Marked
    if (marked.ws === true || isViewRoute(req)) {
      done()
      return
    }
    const request = new HttpRequest(req, reply, context)
    const exchange = new Exchange(request, reply)
    exchange.continueFastify = done
    marked[kExchange] = exchange
    request[kInner] = plainInner
    chain.call(request).then((final) => exchange.deliver(handler, final)).catch((error) => reply.log.error({ err: error }, 'middleware chain failed'))
  }

  const onSend: onSendHookHandler = function (req, reply, payload, done) {
    const marked = req as Marked
    const exchange = marked[kExchange]
    if (exchange !== undefined) {
      if (exchange.resolveCapture !== undefined) exchange.captureFrom(payload, done as Done)
      else done(null, payload)
      return
    }
    if (marked.ws === true) {
      done(null, payload)
      return
    }
    // Fastify answered before preHandler (404 from a hook, 413, 415, schema 400): enter the chain here.
    const request = new HttpRequest(req, reply, context)
    const late = new Exchange(request, reply)
    marked[kExchange] = late
    const captured = new CapturedResponse(reply, payload)
    late.captured = captured
    late.finishSend = done as Done
    request[kInner] = () => Promise.resolve(captured)
    chain.call(request).then((final) => late.deliver(handler, final)).catch((error) => reply.log.error({ err: error }, 'middleware chain failed'))
  }

  app.addHook('preHandler', preHandler)
  app.addHook('onSend', onSend)
  app.addHook('onRoute', keepRawBodies)
}

/**
 * Middleware reads `request.body` as the bytes the client sent (an HMAC over a
 * webhook must see `10.0`, not a re-encoded `10`): plain routes that may take a
 * body keep a copy beside Fastify's parsing. Routes without a body method pay nothing.
 */
function keepRawBodies (route: RouteOptions): void {
  const config = route.config as Record<PropertyKey, unknown> | undefined
  if (config?.[kViewRoute] === true || (route as { websocket?: boolean }).websocket === true) return
  const methods = [route.method].flat()
  if (methods.every((m) => m === 'GET' || m === 'HEAD')) return
  const existing = route.preParsing === undefined ? [] : [route.preParsing].flat()
  route.preParsing = [keepRawBody, ...existing] as RouteOptions['preParsing']
}

// Multipart bodies are streamed to the route (uploads can be large): not copied.
const keepRawBody: preParsingHookHandler = function (req, _reply, payload, done) {
  if (!hasBody(req) || req.headers['content-type']?.startsWith('multipart/') === true) done(null, payload)
  else done(null, teeRawBody(req, payload))
}
