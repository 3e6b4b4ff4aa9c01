// Django's access checks: loginRequired, permissionRequired, userPassesTest and
// their class mixins. An anonymous user is sent to the login page with `next`;
// an authenticated one gets 403 (Django's mixin rule: redirecting a logged-in
// user to log in again loops).
import { PermissionDenied } from '../http/exceptions.js'
import type { HttpRequest } from '../http/request.js'
import { HttpResponseRedirect } from '../http/response.js'
import type { ViewFunction, ViewResult } from '../http/view-types.js'
import type { View } from '../views/view.js'
import { authOf, hasPerm } from './core.js'
import { AnonymousUser, type AnyUser } from './users.js'

/** Options of the decorators and mixins. */
export interface AccessOptions {
  /** Default: the option `auth.loginUrl`. A URL name is reversed. */
  loginUrl?: string
  /** Default `next`. */
  redirectFieldName?: string
}

/** A test on the user (Django's `test_func`). */
export type UserTest = (user: AnyUser, request: HttpRequest) => boolean | Promise<boolean>

/** Python's quote(value, safe='/'). */
function quote (value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()).replace(/%2F/g, '/')
}

/** The user of a request (AnonymousUser when none was loaded). */
export function userOf (request: HttpRequest): AnyUser {
  return (request.user as AnyUser | null | undefined) ?? AnonymousUser
}

/** Django's redirect_to_login: a 302 to the login URL with `next=<full path>`. */
export function redirectToLogin (request: HttpRequest, options: AccessOptions = {}): HttpResponseRedirect {
  let url = options.loginUrl ?? authOf(request.fastify).loginUrl
  if (!url.includes('/') && !url.includes('.')) url = request.reverse(url)
  const hash = url.indexOf('#')
  const fragment = hash === -1 ? '' : url.slice(hash)
  const base = hash === -1 ? url : url.slice(0, hash)
  const field = `${quote(options.redirectFieldName ?? 'next')}=${quote(request.getFullPath())}`
  const q = base.indexOf('?')
  const query = q === -1 ? '' : base.slice(q + 1).split('&').filter((part) => part !== '' && !part.startsWith(`${quote(options.redirectFieldName ?? 'next')}=`)).join('&')
  return new HttpResponseRedirect(`${q === -1 ? base : base.slice(0, q)}?${query === '' ? '' : query + '&'}${field}${fragment}`)
}

async function refused (request: HttpRequest, options: AccessOptions): Promise<ViewResult> {
  if (userOf(request).isAuthenticated) throw new PermissionDenied()
  return redirectToLogin(request, options)
}

/** Django's user_passes_test: runs the view when `test(user)` holds. */
export function userPassesTest (test: UserTest, options: AccessOptions = {}) {
  return function <K> (view: ViewFunction<K>): ViewFunction<K> {
    const wrapped = async function (request: HttpRequest, kwargs: K): Promise<ViewResult> {
      if (await test(userOf(request), request)) return await view(request, kwargs)
      return await refused(request, options)
    }
    Object.defineProperty(wrapped, 'name', { value: view.name })
    return wrapped
  }
}

/** Django's login_required: `loginRequired(view)` or `loginRequired(view, { loginUrl })`. */
export function loginRequired<K> (view: ViewFunction<K>, options: AccessOptions = {}): ViewFunction<K> {
  return userPassesTest((user) => user.isAuthenticated, options)(view)
}

async function hasPerms (request: HttpRequest, perms: string | readonly string[]): Promise<boolean> {
  const user = userOf(request)
  for (const perm of typeof perms === 'string' ? [perms] : perms) {
    if (!await hasPerm(request.fastify, user, perm)) return false
  }
  return true
}

/** Django's permission_required: one permission or a list, all needed (through the backend's hasPerm). */
export function permissionRequired (perms: string | readonly string[], options: AccessOptions = {}) {
  return userPassesTest((_user, request) => hasPerms(request, perms), options)
}

type ViewClass = abstract new (...args: any[]) => View<any>

/**
 * Django's AccessMixin, the base of the three below: `loginUrl`,
 * `redirectFieldName`, and dispatch refused (302 to log in, or 403) unless
 * `passes` says yes.
 */
function accessMixin<B extends ViewClass, V> (Base: B, passes: (view: V, request: HttpRequest) => boolean | Promise<boolean>) {
  abstract class Access extends Base {
    loginUrl: string | undefined = undefined
    redirectFieldName = 'next'
    override async dispatch (request: HttpRequest, kwargs: any): Promise<ViewResult> {
      if (!await passes(this as unknown as V, request)) return await refused(request, this)
      return await super.dispatch(request, kwargs)
    }
  }
  return Access
}

/** Django's LoginRequiredMixin: `class Secret extends LoginRequiredMixin(View) {...}`. */
export function LoginRequiredMixin<B extends ViewClass> (Base: B) {
  return accessMixin(Base, (_view, request) => userOf(request).isAuthenticated)
}

/** Django's PermissionRequiredMixin: set `permissionRequired` (one or a list). */
export function PermissionRequiredMixin<B extends ViewClass> (Base: B) {
  abstract class PermissionRequired extends accessMixin(Base, (view: { permissionRequired: string | readonly string[] }, request) => hasPerms(request, view.permissionRequired)) {
    permissionRequired: string | readonly string[] = []
  }
  return PermissionRequired
}

/** Django's UserPassesTestMixin: override `testFunc()`. */
export function UserPassesTestMixin<B extends ViewClass> (Base: B) {
  abstract class UserPassesTest extends accessMixin(Base, (view: { testFunc: () => boolean | Promise<boolean> }) => view.testFunc()) {
    testFunc (): boolean | Promise<boolean> {
      throw new TypeError(`${this.constructor.name} is missing the implementation of testFunc()`)
    }
  }
  return UserPassesTest
}
