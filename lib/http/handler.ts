import type { FastifyReply, FastifyRequest } from 'fastify'
import { kApply, kInner, kMatchData } from '../symbols.js'
import type { FlatPattern } from '../urls/compile.js'
import type { RouteMatch } from '../urls/router.js'
import type { Chain } from '../middleware/chain.js'
import type { ViewFunction, ViewResult } from '../views/types.js'
import { HttpRequest, NO_MATCH, type RequestContext } from './request.js'
import { HttpResponse, JsonResponse, isPlainObject, type SendContext } from './response.js'
import { Http404 } from './exceptions.js'
import { PRODUCTION_500, debugDetails, messageOf, problemResponse, read, safeCopy, statusOfViewError } from './problems.js'

/** Django's `handler400/403/404` take the exception; `handler500` only the request. */
export type ErrorView = (request: HttpRequest, exception?: unknown) => ViewResult | Promise<ViewResult>

export interface HandlerOptions {
  debug: boolean
  handlers: { 400?: ErrorView, 403?: ErrorView, 404?: ErrorView, 500?: ErrorView }
  patterns: readonly FlatPattern[]
  context: RequestContext & SendContext
  /** True when the user set their own error handler on the plugin's context. */
  hasUserErrorHandler: () => boolean
  /** With debug: warn when a view's synchronous part blocks the loop this long (ms). */
  blockingWarnMs?: number
  /** APPEND_SLASH: the redirect for a request no pattern resolves, if `path + '/'` does. */
  appendSlash?: (req: FastifyRequest) => HttpResponse | undefined
}

/** An Http404 raised by routing, carrying what was tried (shown with `debug`). */
export class Resolver404 extends Http404 {
  readonly path: string
  constructor (path: string) {
    super(`The current path, ${path}, didn't match any of these.`)
    this.path = path
  }
}

/**
 * Django's BaseHandler: runs a view (through the middleware chain when there
 * is one), turns errors into responses and sends them.
 */
export class Handler {
  readonly options: HandlerOptions
  chain: Chain | undefined
  /** Set by the middleware adapter: hands a view error to the user's Fastify error handler. */
  escalate: ((request: HttpRequest, error: unknown) => Promise<HttpResponse> | undefined) | undefined

  constructor (options: HandlerOptions) {
    this.options = options
  }

  /** Runs the matched view for a Fastify request and sends the response. */
  serveView (req: FastifyRequest, reply: FastifyReply, match: RouteMatch): Sent {
    const request = new HttpRequest(req, reply, this.options.context, match)
    if (this.chain !== undefined) {
      request[kInner] = this.viewCore
      return this.runChain(request, reply)
    }
    const view = match.pattern.view
    let result: unknown
    try {
      result = this.options.blockingWarnMs === undefined ? view(request, match.kwargs) : this.timedView(request, view, match.kwargs)
    } catch (error) {
      return this.fail(request, reply, error)
    }
    if (result instanceof HttpResponse) return this.send(reply, result)
    if (result !== null && typeof (result as Promise<unknown>)?.then === 'function') {
      return (result as Promise<unknown>).then(
        (value) => this.finish(request, reply, value, view),
        (error) => this.fail(request, reply, error)
      )
    }
    return this.finish(request, reply, result, view)
  }

  finish (request: HttpRequest, reply: FastifyReply, result: unknown, view: ViewFunction<any>): Sent {
    let response: HttpResponse
    try {
      response = this.toResponse(result, view)
    } catch (error) {
      return this.fail(request, reply, error)
    }
    return this.send(reply, response)
  }

  /** A request that reached a view route but matched none of its patterns. */
  serveNotFound (req: FastifyRequest, reply: FastifyReply): Sent {
    // A wildcard route took the request: APPEND_SLASH is decided here, as for a Fastify 404.
    const redirect = this.options.appendSlash?.(req)
    if (redirect !== undefined) return this.send(reply, redirect)
    return this.serveError(req, reply, (request) => new Resolver404(request.pathInfo))
  }

  /** Answers a request with the response for an error raised before any view ran. */
  serveError (req: FastifyRequest, reply: FastifyReply, makeError: (request: HttpRequest) => unknown): Sent {
    const request = new HttpRequest(req, reply, this.options.context, NO_MATCH)
    const error = makeError(request)
    if (this.chain !== undefined) {
      // Not a view's error: no processException, straight to its response (Django's resolver 404).
      request[kInner] = () => this.convert(request, error)
      return this.runChain(request, reply)
    }
    return this.fail(request, reply, error)
  }

  /** How the middleware chain turns an error into a response. */
  readonly convert = (request: HttpRequest, error: unknown): Promise<HttpResponse> => {
    if (this.options.hasUserErrorHandler() && !this.handles(error)) {
      const escalated = this.escalate?.(request, error)
      if (escalated !== undefined) return escalated
    }
    return this.responseForException(request, error)
  }

  /** Set by the middleware adapter: runs the chain and delivers its response. */
  runChain!: (request: HttpRequest, reply: FastifyReply) => Promise<void>

  /** The innermost layer for a view: processView, the view, processException (Django's `_get_response`). */
  readonly viewCore = (request: HttpRequest): Promise<HttpResponse> => {
    const chain = this.chain as Chain
    if (chain.processView.length === 0 && chain.processException.length === 0) {
      // No hooks to run: the view's own promise, one step to a response.
      const match = request[kMatchData] as RouteMatch
      const view = match.pattern.view
      let result: unknown
      try {
        result = this.options.blockingWarnMs === undefined ? view(request, match.kwargs) : this.timedView(request, view, match.kwargs)
      } catch (error) {
        return this.convert(request, error)
      }
      if (result instanceof HttpResponse) return Promise.resolve(result)
      return Promise.resolve(result).then((value) => {
        try {
          return this.toResponse(value, view)
        } catch (error) {
          return this.convert(request, error)
        }
      }, (error) => this.convert(request, error))
    }
    return this.viewCoreWithHooks(request).then(undefined, (error) => this.convert(request, error))
  }

  async viewCoreWithHooks (request: HttpRequest): Promise<HttpResponse> {
    const match = request[kMatchData] as RouteMatch
    const view = match.pattern.view
    const chain = this.chain as Chain
    for (const processView of chain.processView) {
      const response = await processView(request, view, match.args, match.kwargs)
      if (response instanceof HttpResponse) return response
    }
    let result: unknown
    try {
      result = await (this.options.blockingWarnMs === undefined ? view(request, match.kwargs) : this.timedView(request, view, match.kwargs))
    } catch (error) {
      for (const processException of chain.processException) {
        const response = await processException(request, error)
        if (response instanceof HttpResponse) return response
      }
      throw error
    }
    return this.toResponse(result, view)
  }

  /** Calls a view, warning when its synchronous part held the event loop (debug only). */
  timedView (request: HttpRequest, view: ViewFunction<any>, kwargs: Record<string, unknown>): unknown {
    const started = performance.now()
    try {
      return view(request, kwargs)
    } finally {
      this.warnIfSlow(`view ${view.name === '' ? '<anonymous>' : view.name}`, performance.now() - started, request)
    }
  }

  /** Logs the classic mistake: blocking work on the event loop. */
  readonly warnIfSlow = (what: string, ms: number, request: HttpRequest): void => {
    const limit = this.options.blockingWarnMs
    if (limit === undefined || ms < limit) return
    try {
      request.fastify.log.warn({ blockedMs: Math.round(ms) }, `${what} blocked the event loop for ${Math.round(ms)} ms (over ${limit} ms): move blocking work to syncToAsync() or syncView()`)
    } catch {}
  }

  /** A view's return value as a response: objects and arrays become JSON. */
  toResponse (result: unknown, view: ViewFunction<any> | ((...args: any[]) => unknown)): HttpResponse {
    if (result instanceof HttpResponse) return result
    if (Array.isArray(result) || isPlainObject(result)) return new JsonResponse(result, { safe: false })
    throw new TypeError(`The view ${view.name === '' ? '<anonymous>' : view.name} didn't return an HttpResponse object. It returned ${describeValue(result)} instead.`)
  }

  /** A view error with no middleware: handlerXXX, the user's error handler, or the default body. */
  fail (request: HttpRequest, reply: FastifyReply, error: unknown): Promise<void> {
    if (this.options.hasUserErrorHandler() && !this.handles(error)) {
      // Fastify routes the rejection to the user's handler (see plugin's route errorHandler).
      return Promise.reject(error)
    }
    return this.responseForException(request, error).then((response) => this.send(reply, response))
  }

  /** Whether a handlerXXX view takes this error (debug keeps the technical 404/500). */
  handles (error: unknown): boolean {
    const status = statusOfViewError(error)
    const { handlers, debug } = this.options
    if (status === 400 || status === 403) return handlers[status] !== undefined
    if (status === 404) return handlers[404] !== undefined && !debug
    if (status === 500) return handlers[500] !== undefined && !debug
    return false
  }

  /** Django's `response_for_exception`: the response an unhandled error gets. Never rejects. */
  async responseForException (request: HttpRequest, error: unknown): Promise<HttpResponse> {
    const status = statusOfViewError(error)
    this.log(request, status, error)
    if (this.handles(error)) {
      const handler = this.options.handlers[status as 400 | 403 | 404 | 500] as ErrorView
      try {
        const result = await (status === 500 ? handler(request) : handler(request, error))
        const response = this.toResponse(result, handler)
        // Plain data from an error handler keeps the error's status (a response keeps its own).
        if (!(result instanceof HttpResponse)) response.statusCode = status
        return response
      } catch (handlerError) {
        this.log(request, 500, handlerError)
        return problemResponse(500, undefined)
      }
    }
    if (!this.options.debug) {
      if (status >= 500) return problemResponse(status, undefined)
      return problemResponse(status, messageOf(error))
    }
    const extra = debugDetails(error)
    if (error instanceof Resolver404 || (status === 404 && request.resolverMatch === null)) {
      extra.path = request.pathInfo
      extra.tried = this.options.patterns.map((flat) => flat.pattern.name === undefined ? flat.route : `${flat.route} [name='${flat.pattern.name}']`)
    } else if (status === 404) {
      extra.raisedBy = request.resolverMatch?.viewName
    }
    return problemResponse(status, messageOf(error), extra)
  }

  /** Logs an error at the level Fastify would; a failing logger changes nothing. */
  log (request: HttpRequest, status: number, error: unknown): void {
    try {
      const log = request.fastify.log
      // Work abandoned because the client left (request.signal) is not a server error.
      if (read(error, 'name') === 'AbortError' && (request.fastify.raw.destroyed || request.fastify.raw.socket?.destroyed === true)) {
        log.info(`client went away during ${request.method} ${request.path}; work abandoned`)
        return
      }
      if (status >= 500) log.error({ err: error }, `${status === 500 ? 'Internal Server Error' : status === 502 ? 'Bad Gateway' : status === 504 ? 'Gateway Timeout' : 'Server Error'}: ${request.path}`)
      else log.info({ err: error }, `${messageOf(error)}: ${request.path}`)
    } catch {
      // pino's serializer writes on the error (a frozen one throws): log a plain copy instead.
      try {
        request.fastify.log.error({ err: safeCopy(error) }, `${status} on ${request.path}`)
      } catch {
        try {
          request.fastify.log.error(`${status} on ${request.path} (the error could not be logged)`)
        } catch {}
      }
    }
  }

  /** Writes a response into the reply and sends it. */
  // Returns nothing once sent (not the reply: a thenable Fastify would wait on).
  send (reply: FastifyReply, response: HttpResponse): Sent {
    let payload: unknown
    try {
      payload = response[kApply](reply, this.options.context)
    } catch (error) {
      this.sendFailure(reply, error)
      return
    }
    if (payload instanceof Promise) {
      return payload.then((ready) => { reply.send(ready); return flushStreamed(reply, ready) }, (error) => { this.sendFailure(reply, error) })
    }
    reply.send(payload)
    return flushStreamed(reply, payload)
  }

  /** A response that could not be written (bad redirect name, missing file): a clean 500. */
  sendFailure (reply: FastifyReply, error: unknown): void {
    try {
      reply.log.error({ err: error }, 'Response could not be sent')
    } catch {}
    for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name)
    reply.code(500).header('content-type', 'application/json; charset=utf-8')
    reply.send(this.options.debug ? JSON.stringify({ statusCode: 500, error: 'Internal Server Error', message: messageOf(error), ...debugDetails(error) }) : PRODUCTION_500)
  }
}

function describeValue (value: unknown): string {
  if (value === undefined) return 'undefined'
  if (value === null) return 'null'
  if (typeof value === 'object') return `an object (${(read(value, 'constructor') as { name?: string } | undefined)?.name ?? 'null prototype'})`
  return `a ${typeof value}`
}

/**
 * A streamed body's headers go out at once, as ASGI sends the response start
 * before the body: an EventSource opens without waiting for the first event.
 */
export function flushStreamed (reply: FastifyReply, payload: unknown): Sent {
  if (payload === null || typeof (payload as { pipe?: unknown })?.pipe !== 'function') return
  setImmediate(() => {
    const res = reply.raw as FastifyReply['raw'] & { flushHeaders?: () => void }
    if (!res.headersSent && !res.destroyed && !res.writableEnded) res.flushHeaders?.()
  })
  // A stream is still being sent: the handler settles when the reply does (Fastify
  // must not see an unsent reply and send again).
  return Promise.resolve(reply).then(() => {}, () => {})
}

/** What the view handlers return: nothing once the reply is sent, or a promise of that. */
export type Sent = void | Promise<void>
