// Private state lives under these symbols, never as plain properties
// (as fastify/lib/symbols.js does). Symbol.for: shared with another copy of
// the package in the process (the test communicator reads what the server set).

// HTTP
export const kViewRoute = Symbol('fastify-async-views.viewRoute')
export const kDeferredLocation = Symbol('fastify-async-views.deferredLocation')
export const kApply = Symbol('fastify-async-views.apply')
export const kMatchData = Symbol('fastify-async-views.matchData')
export const kExchange = Symbol('fastify-async-views.exchange')
export const kReply = Symbol('fastify-async-views.reply')
export const kRawBody = Symbol('fastify-async-views.rawBody')
/** A multipart request's parsed form: fields for POST, spooled files for FILES. */
export const kUploads = Symbol('fastify-async-views.uploads')

// CSRF and templates
/** The app's CSRF settings and verifier (an app decoration). */
export const kCsrf = Symbol('fastify-async-views.csrf')
/** On a view: exempt from the CSRF check (`csrfExempt`). */
export const kCsrfExempt = Symbol('fastify-async-views.csrfExempt')
/** On a FastifyRequest: the token made for this request, and the candidate being verified. */
export const kCsrfToken = Symbol('fastify-async-views.csrfToken')
export const kCsrfCandidate = Symbol('fastify-async-views.csrfCandidate')
/** The app's template renderer (an app decoration). */
export const kTemplates = Symbol('fastify-async-views.templates')

// WebSocket consumers and channel layers
/** A consumer's link to the connection that drives it. */
export const kConsumerConnection = Symbol('fastify-async-views.consumerConnection')
/** A socket's link to its connection (shared listeners find it there). */
export const kSocketConnection = Symbol('fastify-async-views.socketConnection')
/** The raw upgrade request's connection, chosen subprotocol, 101 headers and refusal code. */
export const kUpgradeConnection = Symbol.for('fastify-async-views.ws.connection')
export const kSubprotocol = Symbol.for('fastify-async-views.ws.subprotocol')
export const kCloseCode = Symbol.for('fastify-async-views.ws.closeCode')
export const kUpgradeHeaders = Symbol('fastify-async-views.ws.headers')
/** A socket whose upgrade is not done yet, to its connection. */
export const kEarly = Symbol('fastify-async-views.ws.early')
/** A consumer class's handler names by message type. */
export const kHandlers = Symbol('fastify-async-views.handlers')
/** A layer's push fast path for local receivers. */
export const kSubscribe = Symbol.for('fastify-async-views.layer.subscribe')

// Sessions and auth
/** A FastifyRequest's Django-style session (set by the sessions hook). */
export const kSession = Symbol('fastify-async-views.session')
/** The app's user loader (on the Fastify instance), for `await request.auser()`. */
export const kLoadUser = Symbol('fastify-async-views.loadUser')
/** The app's auth runtime (backends, URLs), on the Fastify instance. */
export const kAuth = Symbol('fastify-async-views.auth')
/** The app's session runtime, on the Fastify instance. */
export const kSessions = Symbol('fastify-async-views.sessions')
/** Set by the CSRF part on a request: rotates its secret (login() calls it). */
export const kRotateCsrf = Symbol('fastify-async-views.rotateCsrf')
/** The templates part's render(), for LoginView/LogoutView (which sit below it). */
export const kRender = Symbol('fastify-async-views.render')
/** The backend a user came from (non-enumerable, on the user object). */
export const kUserBackend = Symbol('fastify-async-views.userBackend')
/** On a WebSocket's upgrade FastifyRequest: puts a Set-Cookie line on the 101, or throws after accept(). */
export const kSocketCookie = Symbol('fastify-async-views.socketCookie')
/** Set-Cookie lines waiting for the 101 (on the raw upgrade request). */
export const kUpgradeCookies = Symbol('fastify-async-views.ws.cookies')
/** HttpRequest's check that its client has gone (the sync bridge drops a sync view's queued call then). */
export const kClientGone = Symbol('fastify-async-views.clientGone')
