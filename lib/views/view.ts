import type { HttpRequest } from '../http/request.js'
import { HttpResponse, HttpResponseNotAllowed } from '../http/response.js'
import type { ViewFunction, ViewResult } from '../http/view-types.js'
import { ERR_INVALID_INITKWARG, ERR_SETUP_WITHOUT_SUPER } from '../errors.js'

type Handler = (request: HttpRequest, kwargs: any) => ViewResult | Promise<ViewResult>

/** What `asView()` returns: a view function that remembers its class. */
export interface ClassBasedView<K = Record<string, unknown>> extends ViewFunction<K> {
  viewClass: typeof View<any>
  viewInitkwargs: Readonly<Record<string, unknown>>
}

/**
 * Django's class-based View: `get`, `post`... methods, a new instance per request.
 * `class Detail extends View<{ id: number }> { async get (request, { id }) {...} }`
 */
export class View<K = Record<string, unknown>> {
  /** Method names a View may answer, in Django's order. */
  static httpMethodNames: readonly string[] = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'trace']

  request!: HttpRequest
  kwargs!: K

  /** Called before dispatch with the request and kwargs (Django's `setup`). */
  setup (request: HttpRequest, kwargs: K): void {
    this.request = request
    this.kwargs = kwargs
  }

  /** Calls the method handler named after the request method, or answers 405. */
  dispatch (request: HttpRequest, kwargs: K): ViewResult | Promise<ViewResult> {
    const ctor = this.constructor as typeof View
    let name = request.method.toLowerCase()
    if (name === 'head' && typeof (this as Record<string, unknown>).head !== 'function') name = 'get'
    const handler = (this as Record<string, unknown>)[name]
    if (!ctor.httpMethodNames.includes(name) || typeof handler !== 'function') return this.httpMethodNotAllowed(request)
    return (handler as Handler).call(this, request, kwargs)
  }

  httpMethodNotAllowed (_request: HttpRequest): HttpResponse {
    return new HttpResponseNotAllowed(this.allowedMethods())
  }

  /** OPTIONS: 200 with `Allow` and an empty body. */
  options (_request: HttpRequest, _kwargs: K): ViewResult | Promise<ViewResult> {
    const response = new HttpResponse('')
    response.headers.set('allow', this.allowedMethods().join(', '))
    return response
  }

  /** The defined methods, plus HEAD where `get` exists (OPTIONS is always defined). */
  allowedMethods (): string[] {
    const self = this as Record<string, unknown>
    const ctor = this.constructor as typeof View
    return ctor.httpMethodNames
      .filter((m) => typeof self[m] === 'function' || (m === 'head' && typeof self.get === 'function'))
      .map((m) => m.toUpperCase())
  }

  /**
   * Returns a view function for URL patterns. `initkwargs` set attributes on
   * each instance, and must name attributes the class already has.
   */
  static asView<T extends View<any>, A extends unknown[]> (
    this: new (...args: A) => T,
    initkwargs: Partial<Omit<T, keyof View<any>>> = {}
  ): ClassBasedView<T extends View<infer K> ? K : Record<string, unknown>> {
    const Cls = this as unknown as typeof View & (new () => T)
    const probe = new Cls() as Record<string, unknown>
    for (const key of Object.keys(initkwargs)) {
      if (Cls.httpMethodNames.includes(key)) {
        throw new ERR_INVALID_INITKWARG(`The method name ${key} is not accepted as a keyword argument to ${Cls.name}().`)
      }
      if (!(key in probe)) {
        throw new ERR_INVALID_INITKWARG(`${Cls.name}.asView() received an invalid keyword '${key}'. asView only accepts arguments that are already attributes of the class.`)
      }
    }
    const frozen = Object.freeze({ ...initkwargs })
    const view = function (request: HttpRequest, kwargs: any): ViewResult | Promise<ViewResult> {
      const self = new Cls()
      Object.assign(self, frozen)
      self.setup(request, kwargs)
      if (self.request === undefined) {
        throw new ERR_SETUP_WITHOUT_SUPER(`${Cls.name} instance has no 'request' attribute. Did you override setup() and forget to call super.setup()?`)
      }
      return self.dispatch(request, kwargs)
    } as ClassBasedView<any>
    Object.defineProperty(view, 'name', { value: Cls.name })
    view.viewClass = Cls
    view.viewInitkwargs = frozen
    return view
  }
}
