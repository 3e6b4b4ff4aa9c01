// Exceptions users throw from views and middleware, with Django's names.
// `statusCode` is what the error becomes when nothing handles it.

/** Base of the HTTP exceptions below: carries the status the response gets. */
export class HttpException extends Error {
  readonly statusCode: number = 500
  override get name (): string { return this.constructor.name }
}

/** Not found: 404 (Django's `django.http.Http404`). */
export class Http404 extends HttpException {
  override readonly statusCode: number = 404
}

/** Forbidden: 403. */
export class PermissionDenied extends HttpException {
  override readonly statusCode: number = 403
}

/** Bad request: 400. */
export class BadRequest extends HttpException {
  override readonly statusCode: number = 400
}

/** A request that looks like an attack: 400, as in Django. */
export class SuspiciousOperation extends HttpException {
  override readonly statusCode: number = 400
}

/** The `Host` header is not a valid host[:port]: 400. */
export class DisallowedHost extends SuspiciousOperation {}

/** Thrown by a middleware factory to leave that middleware out of the chain. */
export class MiddlewareNotUsed extends Error {
  override get name (): string { return 'MiddlewareNotUsed' }
}

/** A redirect to a URL whose scheme is not http, https or ftp: 400. */
export class DisallowedRedirect extends SuspiciousOperation {}

/** An Http404 raised by routing: no pattern matched (the debug 404 lists what was tried). */
export class Resolver404 extends Http404 {
  readonly path: string
  constructor (path: string) {
    super(`The current path, ${path}, didn't match any of these.`)
    this.path = path
  }
}
