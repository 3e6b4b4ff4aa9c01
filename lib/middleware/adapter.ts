import type { FastifyInstance, FastifyRequest, onSendHookHandler, preHandlerHookHandler, preParsingHookHandler, RouteOptions } from 'fastify'
import { hasBody, teeRawBody } from '../http/raw-body.js'
import { routeConfig } from '../compat.js'
import { kViewRoute } from '../symbols.js'
import type { Dispatcher } from './dispatcher.js'

// View routes carry kViewRoute in their config: their handler runs the chain.
const isViewRoute = (req: FastifyRequest): boolean => routeConfig(req)?.[kViewRoute] === true

/**
 * Puts the dispatcher's middleware on Fastify's lifecycle for every request
 * of the context: plain routes and 404s enter the chain in preHandler (or, when
 * Fastify rejected them earlier, in onSend). WebSocket upgrades bypass it, as in Django.
 *
 * Called before the view routes' context is made, so view routes inherit
 * onSend (a response Fastify makes for them, an early rejection or the
 * user's error handler, enters the chain there); the preHandler comes later
 * (`installPreHandler`): a view's own handler runs the chain.
 */
export function installMiddleware (app: FastifyInstance, dispatcher: Dispatcher): void {
  const onSend: onSendHookHandler = function (req, reply, payload, done) {
    dispatcher.serveSend(req, reply, payload, done)
  }
  app.addHook('onSend', onSend)
  app.addHook('onRoute', keepRawBodies)
}

/**
 * The preHandler that lets plain routes' requests enter the chain (a view
 * route's request passes at once: its handler runs the chain itself).
 */
export function installPreHandler (app: FastifyInstance, dispatcher: Dispatcher): void {
  const preHandler: preHandlerHookHandler = function asyncViewsPlainRoutes (req, reply, done) {
    if (isViewRoute(req) || req.ws) done()
    else dispatcher.servePlain(req, reply, done)
  }
  app.addHook('preHandler', preHandler)
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
