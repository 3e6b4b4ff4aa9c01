import { ImproperlyConfigured, InvalidMiddlewareResult } from '../errors.js'
import { describe } from '../describe.js'
import { MiddlewareNotUsed } from '../http/exceptions.js'
import type { HttpRequest } from '../http/request.js'
import { HttpResponse } from '../http/response.js'
import type { GetResponse, Middleware, MiddlewareInstance, ProcessException, ProcessView } from './types.js'

/** Turns an error into a response; the chain never throws past a layer. */
export type ConvertError = (request: HttpRequest, error: unknown) => Promise<HttpResponse>

/** Takes a request's final response: one function for every request (no closure per request). */
export type Done = (request: HttpRequest, response: HttpResponse) => void

/** The built onion: call it with a request, and the hooks in Django's order. */
export interface Chain {
  call: GetResponse
  /** As `call`, handing the final response to `done` (never rejects, never throws). */
  run: (request: HttpRequest, done: Done) => void
  /** Outermost first. */
  processView: ProcessView[]
  /** Innermost first. */
  processException: ProcessException[]
  names: string[]
}

/**
 * Builds the chain once, as Django's `load_middleware`: the last middleware
 * wraps `core`, each earlier one wraps the next. Every middleware layer is
 * wrapped so an exception becomes a response (Django's
 * `convert_exception_to_response`); `core` must never reject.
 */
export function buildChain (
  middleware: readonly Middleware[],
  core: GetResponse,
  convert: ConvertError,
  onNotUsed: (name: string, error: MiddlewareNotUsed) => void = () => {},
  watch?: SlowWatch
): Chain {
  // The innermost layer (view or Fastify) turns its own errors into responses: no guard there.
  let handler = core
  let outer: Guarded | undefined
  const processView: ProcessView[] = []
  const processException: ProcessException[] = []
  const names: string[] = []
  for (let i = middleware.length - 1; i >= 0; i--) {
    const factory = middleware[i]
    const name = nameOf(factory, i)
    if (typeof factory !== 'function') throw new ImproperlyConfigured(`middleware[${i}] must be a factory function or a class (got ${typeof factory})`)
    const clock = watch === undefined ? undefined : new LayerClock(handler)
    const given = clock?.next ?? handler
    let instance: MiddlewareInstance
    try {
      instance = isClass(factory)
        ? new (factory as new (g: GetResponse) => MiddlewareInstance)(given)
        : (factory as (g: GetResponse) => MiddlewareInstance)(given)
    } catch (error) {
      if (error instanceof MiddlewareNotUsed) {
        onNotUsed(name, error)
        continue
      }
      throw new ImproperlyConfigured(`middleware[${i}] (${name}) failed to build: ${(error as Error)?.message ?? String(error)}`, { cause: error })
    }
    const call = callOf(instance, name, i)
    if (typeof instance.processView === 'function') processView.unshift(instance.processView.bind(instance))
    if (typeof instance.processException === 'function') processException.push(instance.processException.bind(instance))
    const next = given
    outer = clock === undefined || watch === undefined ? guard(call, next, name, convert) : guard(clock.wrap(call, name, watch), next, name, convert)
    handler = outer.call
    names.unshift(name)
  }
  const run = outer?.run ?? ((request, done) => { core(request).then((response) => { done(request, response) }) })
  return { call: handler, run, processView, processException, names }
}

/** Told when a layer's synchronous part held the event loop too long (debug only). */
export type SlowWatch = (name: string, ms: number, request: HttpRequest) => void

/**
 * Times a layer's own synchronous part: the clock pauses while inner layers
 * run synchronously (sync parts nest, so a saved/restored counter is enough).
 */
class LayerClock {
  inner = 0
  readonly next: GetResponse

  constructor (next: GetResponse) {
    this.next = (request) => {
      const started = performance.now()
      try {
        return next(request)
      } finally {
        this.inner += performance.now() - started
      }
    }
  }

  wrap (call: (request: HttpRequest, next: GetResponse) => unknown, name: string, watch: SlowWatch): (request: HttpRequest) => unknown {
    return (request) => {
      const saved = this.inner
      this.inner = 0
      const started = performance.now()
      try {
        return call(request, this.next)
      } finally {
        const own = performance.now() - started - this.inner
        this.inner = saved
        watch(name, own, request)
      }
    }
  }
}

function callOf (instance: MiddlewareInstance, name: string, index: number): (request: HttpRequest, next: GetResponse) => unknown {
  if (typeof instance === 'function') return instance
  if (instance !== null && typeof instance === 'object' && typeof instance.call === 'function') {
    return (request, next) => instance.call(request, next)
  }
  throw new ImproperlyConfigured(`middleware[${index}] (${name}) must produce a function or an object with a call(request) method`)
}

interface Guarded {
  call: GetResponse
  run: (request: HttpRequest, done: Done) => void
}

/**
 * A layer whose errors and wrong results become responses (Django's
 * `convert_exception_to_response`). `run` is the same for the outermost layer,
 * handing the response straight to `done`: one promise step less per request.
 */
function guard (layer: (request: HttpRequest, next: GetResponse) => unknown, next: GetResponse, name: string, convert: ConvertError): Guarded {
  const invalid = (request: HttpRequest, result: unknown): Promise<HttpResponse> =>
    convert(request, new InvalidMiddlewareResult(`Middleware ${name} returned ${describe(result)} instead of an HttpResponse: a middleware must return a response, usually the one it awaited (\`return await getResponse(request)\`)`))
  const call: GetResponse = (request) => {
    let result: unknown
    try {
      result = layer(request, next)
    } catch (error) {
      return convert(request, error)
    }
    if (result instanceof HttpResponse) return Promise.resolve(result)
    if (result !== null && typeof (result as Promise<unknown>)?.then === 'function') {
      return (result as Promise<unknown>).then((value) => value instanceof HttpResponse ? value : invalid(request, value), (error) => convert(request, error))
    }
    return invalid(request, result)
  }
  const run = (request: HttpRequest, done: Done): void => {
    let result: unknown
    try {
      result = layer(request, next)
    } catch (error) {
      convert(request, error).then((response) => { done(request, response) })
      return
    }
    if (result instanceof HttpResponse) {
      done(request, result)
    } else if (result !== null && typeof (result as Promise<unknown>)?.then === 'function') {
      (result as Promise<unknown>).then(
        (value) => { if (value instanceof HttpResponse) done(request, value); else invalid(request, value).then((response) => { done(request, response) }) },
        (error) => { convert(request, error).then((response) => { done(request, response) }) })
    } else {
      invalid(request, result).then((response) => { done(request, response) })
    }
  }
  return { call, run }
}

function isClass (fn: Function): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(fn))
}

function nameOf (factory: unknown, index: number): string {
  const name = typeof factory === 'function' ? factory.name : ''
  return name === '' ? `middleware[${index}]` : name
}
