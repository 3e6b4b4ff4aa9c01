import type { HttpRequest } from '../http/request.js'
import type { HttpResponse } from '../http/response.js'
import { problemResponse } from '../http/problems.js'
import { routeConfig } from '../compat.js'
import { kCsrfExempt, kReply } from '../symbols.js'
import { badOrigin, badReferer } from './origin.js'
import type { CsrfState } from './token.js'

// Django's CsrfViewMiddleware.process_view: which requests are checked, and why one fails.

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** Django's message; `reason` says which check failed. */
const FAILED = 'CSRF verification failed. Request aborted.'

/** The 403 for an unsafe request that fails the check, or undefined when it may reach the view. */
export function checkView (state: CsrfState, request: HttpRequest, view: unknown): HttpResponse | undefined {
  if (SAFE.has(request.method)) return undefined
  if ((view as { [kCsrfExempt]?: boolean } | null)?.[kCsrfExempt] === true || routeConfig(request.fastify)?.csrfExempt === true) return undefined
  const reason = rejection(state, request)
  if (reason === undefined) return undefined
  // As Django's django.security.csrf logger.
  request.fastify.log.warn({ reason, path: request.path }, `Forbidden (${reason}): ${request.path}`)
  return problemResponse(403, FAILED, { reason })
}

/** Django's reason for refusing the request, in its order: Origin (or Referer on https), cookie, token. */
export function rejection (state: CsrfState, request: HttpRequest): string | undefined {
  const settings = state.settings
  const origin = request.headers.get('origin')
  const bad = origin !== undefined ? badOrigin(request, origin, settings) : request.isSecure() ? badReferer(request, settings) : undefined
  if (bad !== undefined) return bad
  const req = request.fastify
  const reply = request[kReply]
  if (state.secretOf(req, reply) === undefined) return 'CSRF cookie not set.'
  let token = request.method === 'POST' ? fieldOf(request, settings.fieldName) : ''
  const fromPost = token !== ''
  if (!fromPost) {
    const header = request.headers.get(settings.headerName)
    if (header === undefined) return 'CSRF token missing.'
    token = header
  }
  if (state.verify(req, reply, token)) return undefined
  return `CSRF token from ${fromPost ? 'POST' : `the '${settings.headerLabel}' HTTP header`} incorrect.`
}

// The form field, '' when absent or unreadable (Django's UnreadablePostError).
function fieldOf (request: HttpRequest, name: string): string {
  try {
    return request.POST.get(name) ?? ''
  } catch {
    return ''
  }
}
