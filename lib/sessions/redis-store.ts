// The Redis store (sessions.store 'redis').
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ImproperlyConfigured } from '../errors.js'
import type { CookieSettings } from './cookie-line.js'
import type { Session } from './session.js'

export interface RedisEngine {
  load (request: FastifyRequest): Promise<Session>
  save (session: Session, request: FastifyRequest, reply: FastifyReply): Promise<void>
}

export async function installRedisStore (_app: FastifyInstance, _settings: CookieSettings, _secrets: readonly string[], _redis: { url?: string, prefix?: string } | undefined): Promise<RedisEngine> {
  throw new ImproperlyConfigured("Option 'sessions.store': 'redis' is not available yet")
}
