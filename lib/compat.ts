import type { FastifyRequest } from 'fastify'

// Every place the package reaches past a dependency's public API lives here,
// each with the public way it falls back to. test/compat.test.ts fails loudly
// when an upgrade changes one of these shapes (the fallback keeps us working,
// only slower or less exact).

/**
 * Whether `handler` is Fastify's own default error handler (so the user set
 * none). Fastify exposes no flag for it; its default is a function of that name.
 */
export function isFastifyDefaultErrorHandler (handler: unknown): boolean {
  return typeof handler === 'function' && handler.name === 'defaultErrorHandler'
}

// `request.routeOptions` builds a new object on every read: too dear per
// request. Fastify keeps the route's context (with its `config`) under a
// private symbol; found once, with routeOptions as the fallback.
let kRouteContext: symbol | null | undefined

/** The route's `config` (what was given in its options), read cheaply. */
export function routeConfig (req: FastifyRequest): Record<PropertyKey, unknown> | undefined {
  if (kRouteContext === undefined) kRouteContext = Object.getOwnPropertySymbols(req).find((s) => s.description === 'fastify.context') ?? null
  if (kRouteContext !== null) {
    const context = (req as unknown as Record<symbol, { config?: Record<PropertyKey, unknown> } | undefined>)[kRouteContext]
    if (context !== undefined) return context.config
  }
  return req.routeOptions.config as unknown as Record<PropertyKey, unknown> | undefined
}

/** @internal which reaches hold on the installed versions (for the compat test). */
export function routeContextFound (req: FastifyRequest): boolean {
  routeConfig(req)
  return kRouteContext !== null && kRouteContext !== undefined
}
