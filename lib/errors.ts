// Every error this package throws at a user, made one way (as fastify/lib/errors.js
// does with @fastify/error): a class per kind, each with a stable `code` users
// may test, built by createError on the JS class it behaves as. The errors a
// user throws (Http404, StopConsumer...) are Django's and Channels' names, in
// http/exceptions.ts and channels/exceptions.ts.

/** Base class of the package's own named errors (ImproperlyConfigured, NoReverseMatch...). */
export class AsyncViewsError extends Error {
  readonly code: string
  constructor (code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }

  override get name (): string { return this.constructor.name }
}

/** An error class with a stable `code`. */
export interface CodedErrorClass<E extends Error = Error> {
  new (message: string, options?: ErrorOptions): E & { readonly code: string }
  readonly code: string
}

const byCode = new Map<string, CodedErrorClass>()

/**
 * A class of errors with a stable `code`, behaving as `Base` (a TypeError
 * stays a TypeError for `instanceof` and `name`, as Node's own ERR_* errors do).
 */
function createError<B extends ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor> (code: string, Base: B): CodedErrorClass<InstanceType<B>> {
  const Coded = class extends (Base as ErrorConstructor) {
    static readonly code = code
    readonly code = code
  }
  Object.defineProperty(Coded, 'name', { value: code })
  byCode.set(code, Coded as unknown as CodedErrorClass)
  return Coded as unknown as CodedErrorClass<InstanceType<B>>
}

/** The class of a code (the sync bridge rebuilds errors from another thread by it). */
export function errorClassOf (code: unknown): CodedErrorClass | undefined {
  return typeof code === 'string' ? byCode.get(code) : undefined
}

/** A bad option or pattern, found at registration (Django's ImproperlyConfigured). */
export class ImproperlyConfigured extends AsyncViewsError {
  constructor (message: string, options?: ErrorOptions) { super('FAV_IMPROPERLY_CONFIGURED', message, options) }
}

/** `reverse()` found no pattern for the name and arguments given. */
export class NoReverseMatch extends AsyncViewsError {
  constructor (message: string, options?: ErrorOptions) { super('FAV_NO_REVERSE_MATCH', message, options) }
}

/** A channel layer's channel already holds `capacity` messages. */
export class ChannelFull extends AsyncViewsError {
  constructor (message: string, options?: ErrorOptions) { super('FAV_CHANNEL_FULL', message, options) }
}

/** A channel layer could not reach its backend (Redis down), or was closed. */
export class ChannelLayerUnavailable extends AsyncViewsError {
  constructor (message: string, options?: ErrorOptions) { super('FAV_CHANNEL_LAYER_UNAVAILABLE', message, options) }
}

/** A Redis channel layer over Sentinel found no sentinel answering: the message names them. */
export class SentinelsUnreachable extends ChannelLayerUnavailable {
  override readonly code: string = 'FAV_SENTINELS_UNREACHABLE'
}

/** A middleware layer returned something that is not an HttpResponse (a 500, as in Django). */
export class InvalidMiddlewareResult extends AsyncViewsError {
  constructor (message: string, options?: ErrorOptions) { super('FAV_INVALID_MIDDLEWARE_RESULT', message, options) }
}

/** An upload over one of the `uploads` limits: 413 before the view (Django's RequestDataTooBig, a 400 there). */
export class RequestDataTooBig extends AsyncViewsError {
  readonly statusCode = 413
  constructor (message: string, options?: ErrorOptions) { super('FAV_REQUEST_DATA_TOO_BIG', message, options) }
}

/** A multipart body that cannot be parsed: 400 before the view (Django's MultiPartParserError). */
export class MultiPartParserError extends AsyncViewsError {
  readonly statusCode = 400
  constructor (message: string, options?: ErrorOptions) { super('FAV_MULTIPART_PARSER_ERROR', message, options) }
}

/** A template that no template directory holds (Django's TemplateDoesNotExist). */
export class TemplateDoesNotExist extends AsyncViewsError {
  constructor (message: string, options?: ErrorOptions) { super('FAV_TEMPLATE_DOES_NOT_EXIST', message, options) }
}

/** A template that failed to compile or render (Django's TemplateSyntaxError). */
export class TemplateSyntaxError extends AsyncViewsError {
  constructor (message: string, options?: ErrorOptions) { super('FAV_TEMPLATE_SYNTAX_ERROR', message, options) }
}

/** A session that cannot do what was asked (a new cookie after the WebSocket 101, a store error). */
export class SessionError extends AsyncViewsError {
  constructor (message: string, options?: ErrorOptions) { super('FAV_SESSION_ERROR', message, options) }
}

/** The session store (Redis) did not answer: a 503. */
export class SessionStoreUnavailable extends AsyncViewsError {
  readonly statusCode = 503
  /** Its message is safe to send (the 503 body says what is down). */
  readonly expose = true
  constructor (message: string, options?: ErrorOptions) { super('FAV_SESSION_STORE_UNAVAILABLE', message, options) }
}

for (const [code, Cls] of [
  ['FAV_IMPROPERLY_CONFIGURED', ImproperlyConfigured],
  ['FAV_NO_REVERSE_MATCH', NoReverseMatch],
  ['FAV_CHANNEL_FULL', ChannelFull],
  ['FAV_CHANNEL_LAYER_UNAVAILABLE', ChannelLayerUnavailable],
  ['FAV_SENTINELS_UNREACHABLE', SentinelsUnreachable],
  ['FAV_INVALID_MIDDLEWARE_RESULT', InvalidMiddlewareResult],
  ['FAV_REQUEST_DATA_TOO_BIG', RequestDataTooBig],
  ['FAV_MULTIPART_PARSER_ERROR', MultiPartParserError],
  ['FAV_TEMPLATE_DOES_NOT_EXIST', TemplateDoesNotExist],
  ['FAV_TEMPLATE_SYNTAX_ERROR', TemplateSyntaxError],
  ['FAV_SESSION_ERROR', SessionError],
  ['FAV_SESSION_STORE_UNAVAILABLE', SessionStoreUnavailable]
] as const) byCode.set(code, Cls as unknown as CodedErrorClass)

// URLs and views
export const ERR_REVERSE_ARGS = createError('FAV_REVERSE_ARGS_AND_KWARGS', TypeError)
export const ERR_CONVERSION = createError('FAV_CONVERSION_FAILED', RangeError)
export const ERR_INVALID_INITKWARG = createError('FAV_INVALID_INITKWARG', TypeError)
export const ERR_SETUP_WITHOUT_SUPER = createError('FAV_SETUP_WITHOUT_SUPER', TypeError)
export const ERR_INVALID_VIEW_RESULT = createError('FAV_INVALID_VIEW_RESULT', TypeError)
/** A non-Error value a view threw, wrapped for Fastify's error handler (`cause` holds it). */
export const ERR_NON_ERROR_THROWN = createError('FAV_NON_ERROR_THROWN', Error)

// Requests and responses
export const ERR_INVALID_STATUS = createError('FAV_INVALID_STATUS', RangeError)
export const ERR_INVALID_CONTENT = createError('FAV_INVALID_CONTENT', TypeError)
export const ERR_JSON_UNSAFE = createError('FAV_JSON_UNSAFE_DATA', TypeError)
export const ERR_NOT_JSON = createError('FAV_NOT_JSON_SERIALIZABLE', TypeError)
export const ERR_CONTENT_TYPE_TWICE = createError('FAV_CONTENT_TYPE_TWICE', TypeError)
export const ERR_INVALID_HEADER = createError('FAV_INVALID_HEADER', TypeError)
export const ERR_INVALID_COOKIE = createError('FAV_INVALID_COOKIE', TypeError)
export const ERR_INVALID_EVENT = createError('FAV_INVALID_EVENT', TypeError)
export const ERR_NOT_A_FILE = createError('FAV_NOT_A_FILE', Error)

// CSRF and templates
/** `content` of a TemplateResponse read before it was rendered (Django's ContentNotRenderedError). */
export const ERR_CONTENT_NOT_RENDERED = createError('FAV_CONTENT_NOT_RENDERED', Error)

// WebSocket consumers
export const ERR_CLIENT_GONE = createError('FAV_CLIENT_GONE', Error)
export const ERR_HANDSHAKE_STATE = createError('FAV_HANDSHAKE_STATE', Error)
export const ERR_INVALID_SUBPROTOCOL = createError('FAV_INVALID_SUBPROTOCOL', TypeError)
export const ERR_INVALID_HANDSHAKE_HEADER = createError('FAV_INVALID_HANDSHAKE_HEADER', TypeError)
export const ERR_SEND_BEFORE_ACCEPT = createError('FAV_SEND_BEFORE_ACCEPT', Error)
export const ERR_INVALID_FRAME = createError('FAV_INVALID_FRAME', TypeError)
export const ERR_INVALID_CLOSE_CODE = createError('FAV_INVALID_CLOSE_CODE', RangeError)
export const ERR_MALFORMED_TYPE = createError('FAV_MALFORMED_MESSAGE_TYPE', Error)
export const ERR_NO_HANDLER = createError('FAV_NO_HANDLER', Error)
export const ERR_INVALID_ORIGIN_PATTERN = createError('FAV_INVALID_ORIGIN_PATTERN', TypeError)

// Channel layers and workers
export const ERR_INVALID_NAME = createError('FAV_INVALID_CHANNEL_NAME', TypeError)
export const ERR_INVALID_MESSAGE = createError('FAV_INVALID_MESSAGE', TypeError)
export const ERR_INVALID_LAYER_OPTION = createError('FAV_INVALID_LAYER_OPTION', TypeError)
export const ERR_FOREIGN_CHANNEL = createError('FAV_FOREIGN_CHANNEL', TypeError)
export const ERR_INVALID_WORKER = createError('FAV_INVALID_CHANNEL_WORKER', TypeError)
export const ERR_WORKER_STOPPED = createError('FAV_CHANNEL_WORKER_STOPPED', Error)

// The sync bridge
export const ERR_INVALID_MODULE_REFERENCE = createError('FAV_INVALID_MODULE_REFERENCE', TypeError)
/** A function passed where the bridge needs a module and an export name: functions cannot cross threads. */
export const ERR_FUNCTION_ACROSS_THREADS = createError('FAV_FUNCTION_ACROSS_THREADS', TypeError)
/** `syncToAsync` of an async function (asgiref raises TypeError too): await it directly. */
export const ERR_SYNC_TO_ASYNC_OF_ASYNC = createError('FAV_SYNC_TO_ASYNC_OF_ASYNC', TypeError)
export const ERR_NO_SUCH_EXPORT = createError('FAV_NO_SUCH_EXPORT', TypeError)
export const ERR_NOT_CLONEABLE = createError('FAV_NOT_CLONEABLE', TypeError)
export const ERR_ASYNC_TO_SYNC_ON_LOOP = createError('FAV_ASYNC_TO_SYNC_ON_EVENT_LOOP', Error)
export const ERR_NOT_A_BRIDGE_WORKER = createError('FAV_NOT_A_BRIDGE_WORKER', Error)
export const ERR_SYNC_BRIDGE_CLOSED = createError('FAV_SYNC_BRIDGE_CLOSED', Error)
export const ERR_SYNC_WORKER_EXITED = createError('FAV_SYNC_WORKER_EXITED', Error)
export const ERR_SYNC_REQUEST_FINISHED = createError('FAV_SYNC_REQUEST_FINISHED', Error)
/** A bridge call dropped by its AbortSignal (`name` is 'AbortError', as the platform's). */
export const ERR_SYNC_ABORTED = createError('FAV_SYNC_ABORTED', Error)

// Sessions and auth
export const ERR_SESSION_VALUE = createError('FAV_SESSION_VALUE', TypeError)
export const ERR_SESSION_TOO_BIG = createError('FAV_SESSION_TOO_BIG', Error)
export const ERR_NO_SESSIONS = createError('FAV_NO_SESSIONS', Error)
export const ERR_NO_AUTH = createError('FAV_NO_AUTH', Error)
export const ERR_UNKNOWN_BACKEND = createError('FAV_UNKNOWN_AUTH_BACKEND', TypeError)
export const ERR_INVALID_PASSWORD_HASH = createError('FAV_INVALID_PASSWORD_HASH', TypeError)

// Test helpers
export const ERR_COMMUNICATOR_STATE = createError('FAV_COMMUNICATOR_STATE', Error)
export const ERR_TIMEOUT = createError('FAV_TIMEOUT', Error)
export const ERR_UNEXPECTED_FRAME = createError('FAV_UNEXPECTED_FRAME', TypeError)
