// The session cookie's Set-Cookie line, with Django's attributes (Path=/,
// HttpOnly, SameSite=Lax, Max-Age unless it ends with the browser, Secure on
// https), and where it goes: the reply, or the WebSocket's 101.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { SessionError } from '../errors.js'
import { serializeCookie } from '../http/cookies.js'
import { kSocketCookie } from '../symbols.js'
import type { Session } from './session.js'

export interface CookieSettings {
  cookieName: string
  cookieAge: number
  expireAtBrowserClose: boolean
  deliver (line: string, request: FastifyRequest, reply: FastifyReply | null): void
}

export function sendCookie (settings: CookieSettings, session: Session, request: FastifyRequest, value: string): string {
  const atClose = session.getExpireAtBrowserClose(settings.expireAtBrowserClose)
  return serializeCookie(settings.cookieName, value, {
    path: '/',
    httpOnly: true,
    sameSite: 'Lax',
    secure: request.protocol === 'https',
    maxAge: atClose ? undefined : session.getExpiryAge()
  })
}

/** Throws a SessionError when a WebSocket can no longer carry a new cookie (login checks before changing anything). */
export function checkCookieDeliverable (request: FastifyRequest): void {
  if ((request as { ws?: boolean }).ws !== true) return
  const socketCookie = (request as { [kSocketCookie]?: (line: string | null) => void })[kSocketCookie]
  if (socketCookie === undefined) throw new SessionError('This session change needs a new cookie, and no response can carry it here')
  socketCookie(null)
}

/** Puts the line on the reply, or on the WebSocket's 101 (a SessionError once accepted). */
export function deliverCookie (line: string, request: FastifyRequest, reply: FastifyReply | null): void {
  if (reply !== null) {
    reply.header('set-cookie', line)
    return
  }
  const socketCookie = (request as { [kSocketCookie]?: (line: string | null) => void })[kSocketCookie]
  if (socketCookie === undefined) throw new SessionError('This session change needs a new cookie, and no response can carry it here')
  socketCookie(line)
}
