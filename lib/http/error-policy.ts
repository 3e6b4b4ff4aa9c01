import type { HttpRequest } from './request.js'
import { HttpResponse } from './response.js'
import { Resolver404 } from './exceptions.js'
import { toResponse } from './send.js'
import type { ViewResult } from './view-types.js'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { PRODUCTION_500, PROBLEM_TYPE, debugDetails, isInstance, messageOf, problemBody, problemResponse, read, safeCopy, statusOfViewError } from './problems.js'

const NOT_FOUND = 'The requested resource was not found on this server.'

/** Django's `handler400/403/404` take the exception; `handler500` only the request. */
export type ErrorView = (request: HttpRequest, exception?: unknown) => ViewResult | Promise<ViewResult>

export interface ErrorPolicyOptions {
  debug: boolean
  handlers: { 400?: ErrorView, 403?: ErrorView, 404?: ErrorView, 500?: ErrorView }
  /** The patterns a debug 404 lists as tried. */
  tried: readonly string[]
  /** True while the app has its own Fastify error handler (it may be set after register). */
  userErrorHandler: () => boolean
}

/**
 * What an error becomes, decided in one place (Django's `response_for_exception`):
 * a handlerXXX view's response, the user's Fastify error handler, or our body.
 */
export class ErrorPolicy {
  readonly debug: boolean
  readonly #handlers: ErrorPolicyOptions['handlers']
  readonly #tried: readonly string[]
  readonly #userErrorHandler: () => boolean

  constructor (options: ErrorPolicyOptions) {
    this.debug = options.debug
    this.#handlers = options.handlers
    this.#tried = options.tried
    this.#userErrorHandler = options.userErrorHandler
  }

  /** Whether a handlerXXX view takes this error (debug keeps the technical 404/500). */
  handles (error: unknown): boolean {
    const status = statusOfViewError(error)
    const handlers = this.#handlers
    if (status === 400 || status === 403) return handlers[status] !== undefined
    if (status === 404) return handlers[404] !== undefined && !this.debug
    if (status === 500) return handlers[500] !== undefined && !this.debug
    return false
  }

  /** Whether the user's own Fastify error handler answers this error. */
  escalates (error: unknown): boolean {
    return this.#userErrorHandler() && !this.handles(error)
  }

  /** The response an unhandled error gets (handlerXXX or our JSON body). Never rejects. */
  async responseFor (request: HttpRequest, error: unknown): Promise<HttpResponse> {
    const status = statusOfViewError(error)
    this.log(request, status, error)
    if (this.handles(error)) {
      const handler = this.#handlers[status as 400 | 403 | 404 | 500] as ErrorView
      try {
        const result = await (status === 500 ? handler(request) : handler(request, error))
        const response = toResponse(result, handler)
        // Plain data from an error handler keeps the error's status (a response keeps its own).
        if (!(result instanceof HttpResponse)) response.statusCode = status
        return response
      } catch (handlerError) {
        this.log(request, 500, handlerError)
        return problemResponse(500, undefined)
      }
    }
    if (!this.debug) {
      // Django's production 404 page: the technical message lists patterns only debug shows.
      if (isInstance(error, Resolver404)) return problemResponse(404, NOT_FOUND)
      return problemResponse(status, status >= 500 ? undefined : messageOf(error))
    }
    const extra = debugDetails(error)
    if (isInstance(error, Resolver404) || (status === 404 && request.resolverMatch === null)) {
      extra.path = request.pathInfo
      extra.tried = this.#tried
    } else if (status === 404) {
      extra.raisedBy = request.resolverMatch?.viewName
    }
    return problemResponse(status, messageOf(error), extra)
  }

  /** The body our view routes give errors Fastify raised itself (413, schema 400, a hook's throw). */
  fastifyError (error: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
    const given = read(error, 'statusCode')
    const status = typeof given === 'number' && given >= 400 && given <= 599 ? given : 500
    // Say where: the request, and the view whose route it was (a 500 from an
    // unserialisable body, such as a BigInt, happens after the view returned).
    const where = `${req.raw.method ?? 'GET'} ${req.raw.url ?? '/'}${viewOfRoute(req)}`
    const log = (err: unknown): void => {
      if (status >= 500) req.log.error({ err }, `Internal Server Error: ${where}: ${messageOf(error)}`)
      else req.log.info({ err }, `${messageOf(error)}: ${where}`)
    }
    try {
      log(error)
    } catch {
      try { log(safeCopy(error)) } catch {}
    }
    // Headers a failed response left behind (the cause, maybe) must not be sent.
    for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name)
    reply.code(status).type(PROBLEM_TYPE)
    if (status === 500 && !this.debug) return reply.send(PRODUCTION_500)
    const code = read(error, 'code')
    const extra: Record<string, unknown> = typeof code === 'string' ? { code } : {}
    if (this.debug) Object.assign(extra, debugDetails(error))
    // A 5xx's message stays private unless the error says it is safe (`expose`, as http-errors has it).
    return reply.send(problemBody(status, status >= 500 && !this.debug && read(error, 'expose') !== true ? undefined : messageOf(error), extra))
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
}

function viewOfRoute (req: FastifyRequest): string {
  try {
    const name = req.routeOptions.handler?.name
    return name === undefined || name === '' ? '' : ` (view ${name})`
  } catch {
    return ''
  }
}
