// The `auth` option: its checks, and the hook that loads `request.user` before
// the middleware (after the session's hook).
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify'
import { ImproperlyConfigured } from '../errors.js'
import { describe } from '../describe.js'
import { kAuth, kLoadUser } from '../symbols.js'
import { loadUser, type AuthRuntime } from './core.js'
import type { AuthBackend } from './users.js'

/** The `auth` option (Django's AUTHENTICATION_BACKENDS, LOGIN_URL, LOGIN_REDIRECT_URL). */
export interface AuthOptions {
  backends: ReadonlyArray<AuthBackend<any>>
  /** Where loginRequired sends anonymous users. Default `/accounts/login/`. */
  loginUrl?: string
  /** Where LoginView goes without a safe `next`. Default `/accounts/profile/`. */
  loginRedirectUrl?: string
}

export function checkAuthOptions (auth: unknown, hasSessions: boolean): void {
  if (auth === undefined) return
  if (auth === null || typeof auth !== 'object') throw new ImproperlyConfigured(`Option 'auth' must be an object (got ${describe(auth)})`)
  const options = auth as AuthOptions
  for (const key of Object.keys(options)) {
    if (!['backends', 'loginUrl', 'loginRedirectUrl'].includes(key)) throw new ImproperlyConfigured(`Unknown option 'auth.${key}'`)
  }
  if (!hasSessions) throw new ImproperlyConfigured("Option 'auth' needs the option 'sessions'")
  if (!Array.isArray(options.backends) || options.backends.length === 0) throw new ImproperlyConfigured(`Option 'auth.backends' must be a non-empty array of backends (got ${describe(options.backends)})`)
  const names = new Set<string>()
  options.backends.forEach((backend: Partial<AuthBackend>, i) => {
    if (backend === null || typeof backend !== 'object' || typeof backend.name !== 'string' || backend.name === '' ||
        typeof backend.authenticate !== 'function' || typeof backend.getUser !== 'function') {
      throw new ImproperlyConfigured(`Option 'auth.backends[${i}]' must have a name, authenticate() and getUser() (got ${describe(backend)})`)
    }
    if (names.has(backend.name)) throw new ImproperlyConfigured(`Option 'auth.backends[${i}]': the name ${JSON.stringify(backend.name)} is used twice`)
    names.add(backend.name)
  })
  for (const key of ['loginUrl', 'loginRedirectUrl'] as const) {
    if (options[key] !== undefined && (typeof options[key] !== 'string' || options[key] === '')) throw new ImproperlyConfigured(`Option 'auth.${key}' must be a URL (got ${describe(options[key])})`)
  }
}

/** Installs the user hook; call after the sessions' hooks. */
export function installAuth (app: FastifyInstance, options: AuthOptions): AuthRuntime {
  const runtime: AuthRuntime = {
    backends: options.backends,
    loginUrl: options.loginUrl ?? '/accounts/login/',
    loginRedirectUrl: options.loginRedirectUrl ?? '/accounts/profile/',
    byName: new Map(options.backends.map((backend) => [backend.name, backend]))
  }
  const loadRequestUser: onRequestHookHandler = function (request, _reply, done) {
    const loading = loadUser(runtime, request)
    if (loading === undefined) done()
    else loading.then(() => { done() }, done)
  }
  if (!app.hasRequestDecorator('user')) app.decorateRequest('user', null)
  app.addHook('onRequest', loadRequestUser)
  const target = app as unknown as { [kAuth]?: AuthRuntime, [kLoadUser]?: (request: FastifyRequest) => Promise<void> | undefined }
  target[kAuth] = runtime
  target[kLoadUser] = (request) => loadUser(runtime, request)
  return runtime
}
