import type { FastifyRequest } from 'fastify'

// `request.routeOptions` builds a new object on every read: too dear per
// request. Fastify keeps the route's context (with its `config`) under a
// private symbol; find it once, fall back to routeOptions if it ever moves.
let kContext: symbol | null | undefined

/** The route's `config` (what was given in its options), read cheaply. */
export function routeConfig (req: FastifyRequest): Record<PropertyKey, unknown> | undefined {
  if (kContext === undefined) kContext = Object.getOwnPropertySymbols(req).find((s) => s.description === 'fastify.context') ?? null
  if (kContext !== null) return ((req as unknown as Record<symbol, { config?: Record<PropertyKey, unknown> } | undefined>)[kContext])?.config
  return req.routeOptions.config as unknown as Record<PropertyKey, unknown> | undefined
}
