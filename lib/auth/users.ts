// The user types: what a backend gives, what `request.user` is, and Django's
// AnonymousUser.
import type { HttpRequest } from '../http/request.js'
import { kUserBackend } from '../symbols.js'

/** The least a backend's user has. */
export interface BaseUser {
  id: string | number
  isActive?: boolean
}

/** Django's authentication backend, async. */
export interface AuthBackend<U extends BaseUser = BaseUser> {
  /** Stored in the session (`_auth_user_backend`); unique among the app's backends. */
  name: string
  /** The user these credentials name, or null. */
  authenticate (request: HttpRequest | null, credentials: object): Promise<U | null>
  /** The user of a session's `_auth_user_id`, or null. */
  getUser (id: string): Promise<U | null>
  /** A value that changes with the password (an HMAC of its hash): a new password logs out everywhere. */
  getSessionAuthHash? (user: U): string
  /** Whether the user has `perm` (`app.action_model`); without it, every permission is denied. */
  hasPerm? (user: U, perm: string): boolean | Promise<boolean>
}

/** A backend's user as `request.user` holds it: flagged as authenticated. */
export type AuthenticatedUser<U extends BaseUser = BaseUser> = U & { readonly isAuthenticated: true, readonly isAnonymous: false }

/** Django's AnonymousUser: what `request.user` is when nobody is logged in. */
export interface AnonymousUserType {
  readonly id: null
  readonly pk: null
  readonly username: ''
  readonly isActive: false
  readonly isStaff: false
  readonly isSuperuser: false
  readonly isAuthenticated: false
  readonly isAnonymous: true
  toString (): string
}

/** The one anonymous user (frozen): `request.user === AnonymousUser` for a visitor. */
export const AnonymousUser: AnonymousUserType = Object.freeze({
  id: null,
  pk: null,
  username: '',
  isActive: false,
  isStaff: false,
  isSuperuser: false,
  isAuthenticated: false,
  isAnonymous: true,
  toString: () => 'AnonymousUser'
} as const)

/** Either kind of user. */
export type AnyUser<U extends BaseUser = BaseUser> = AuthenticatedUser<U> | AnonymousUserType

/** Flags a backend's user as authenticated (non-enumerable: JSON of the user stays the backend's). */
export function markUser<U extends BaseUser> (user: U, backend: string): AuthenticatedUser<U> {
  // A frozen user is copied: the flags must be there.
  const target = Object.isExtensible(user) ? user : { ...user }
  Object.defineProperty(target, 'isAuthenticated', { value: true, configurable: true })
  Object.defineProperty(target, 'isAnonymous', { value: false, configurable: true })
  Object.defineProperty(target, kUserBackend, { value: backend, configurable: true })
  return target as AuthenticatedUser<U>
}

/** The backend name a user came from, if it came through authenticate/getUser. */
export function backendOf (user: object): string | undefined {
  return (user as { [kUserBackend]?: string })[kUserBackend]
}
