import type { FastifyReply } from 'fastify'
import type { HttpRequest } from './request.js'
import { kApply } from '../symbols.js'
import { HttpResponse, JsonResponse, isPlainObject, type SendContext } from './response.js'
import { describe } from '../describe.js'
import { PRODUCTION_500, PROBLEM_TYPE, debugDetails, messageOf, problemBody } from './problems.js'
import { ERR_INVALID_VIEW_RESULT } from '../errors.js'

/** What the view handlers return: nothing once the reply is sent, or a promise of that. */
export type Sent = void | Promise<void>

/** A view's return value as a response: objects and arrays become JSON (Django's view contract). */
export function toResponse (result: unknown, view: { name: string }): HttpResponse {
  if (result instanceof HttpResponse) return result
  if (Array.isArray(result) || isPlainObject(result)) return new JsonResponse(result, { safe: false })
  throw new ERR_INVALID_VIEW_RESULT(`The view ${view.name === '' ? '<anonymous>' : view.name} didn't return an HttpResponse object. It returned ${describe(result)} instead.`)
}

/**
 * Writes a response into the reply and sends it. Returns nothing once sent
 * (not the reply: a thenable Fastify would wait on), or a promise while a
 * body is still being produced.
 */
export function sendResponse (reply: FastifyReply, response: HttpResponse, context: SendContext, debug: boolean, request?: HttpRequest): Sent {
  let payload: unknown
  try {
    payload = response[kApply](reply, context)
  } catch (error) {
    sendFailure(reply, error, debug, request)
    return
  }
  if (payload instanceof Promise) {
    return payload.then((ready) => { reply.send(ready); return flushStreamed(reply, ready) }, (error) => { sendFailure(reply, error, debug, request) })
  }
  reply.send(payload)
  return flushStreamed(reply, payload)
}

/** A response that could not be written (bad redirect name, missing file): a clean 500. */
export function sendFailure (reply: FastifyReply, error: unknown, debug: boolean, request?: HttpRequest): void {
  try {
    // Say whose response it was: the view (when known) and the request.
    const raw = reply.request.raw
    const view = request?.resolverMatch?.viewName
    reply.log.error({ err: error, view, method: raw.method, url: raw.url }, `The response${view === undefined ? '' : ` of view ${view}`} to ${raw.method ?? 'GET'} ${raw.url ?? '/'} could not be sent: ${messageOf(error)}`)
  } catch {}
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name)
  reply.code(500).header('content-type', PROBLEM_TYPE)
  reply.send(debug ? problemBody(500, messageOf(error), debugDetails(error)) : PRODUCTION_500)
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
