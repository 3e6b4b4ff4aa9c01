// The options secretKey, sessions and auth wired into an app, in the order
// their hooks must run: the store's plugin, the session, then the user.
import type { FastifyInstance } from 'fastify'
import { installSessions, type LayerRedisDefaults, type SessionsOptions } from '../sessions/plugin-part.js'
import { checkSecretKey } from '../sessions/secret-key.js'
import { installAuth, type AuthOptions } from './plugin-part.js'

export async function installAuthSessions (app: FastifyInstance, options: { secretKey?: string | readonly string[], sessions?: SessionsOptions, auth?: AuthOptions }, layerRedis: LayerRedisDefaults | undefined): Promise<void> {
  if (options.sessions === undefined) return
  await installSessions(app, options.sessions, checkSecretKey(options.secretKey), layerRedis)
  if (options.auth !== undefined) installAuth(app, options.auth)
}
