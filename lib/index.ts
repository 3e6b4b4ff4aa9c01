export { asyncViews, asyncViews as default } from './plugin.js'
export type { AsyncViewsOptions } from './plugin.js'

export { AsyncViewsError, ImproperlyConfigured, NoReverseMatch, ChannelFull, ChannelLayerUnavailable, SentinelsUnreachable, InvalidMiddlewareResult, RequestDataTooBig, MultiPartParserError, TemplateDoesNotExist, TemplateSyntaxError } from './errors.js'
export type { CodedErrorClass } from './errors.js'

export { include, URLPattern, URLResolver, Include } from './urls/patterns.js'
export { path, rePath } from './views/paths.js'
export type { PathFunction, RePathFunction } from './views/paths.js'
export type { PathOptions, URLConf, URLConfModule, URLEntry } from './urls/patterns.js'
export { registerConverter } from './urls/converters.js'
export type { Converter, Converters } from './urls/converters.js'
export type { KwargsOf } from './urls/types.js'
export type { ReverseOptions, ReverseFunction, QueryInput } from './urls/reverse.js'
export { reverse, resolve } from './urls/base.js'

export { HttpRequest } from './http/request.js'
export type { AsyncViewsTypes, RequestUser } from './http/request.js'
export type { ResolverMatch } from './urls/resolver-match.js'
export { QueryDict } from './http/querydict.js'
export { MultiValueDict } from './http/multivalue.js'
export { UploadedFile, FileDict } from './http/files.js'
export type { UploadsOptions } from './uploads/index.js'
export { RequestHeaders, ResponseHeaders } from './http/headers.js'
export type { HeaderValue } from './http/headers.js'
export type { CookieOptions } from './http/cookies.js'
export {
  HttpResponse,
  JsonResponse,
  HttpResponseRedirectBase,
  HttpResponseRedirect,
  HttpResponsePermanentRedirect,
  HttpResponseNotModified,
  HttpResponseBadRequest,
  HttpResponseForbidden,
  HttpResponseNotFound,
  HttpResponseGone,
  HttpResponseServerError,
  HttpResponseNotAllowed
} from './http/response.js'
export type { ResponseOptions, JsonResponseOptions, Content } from './http/response.js'
export { StreamingHttpResponse, FileResponse, EventStreamResponse, formatEvent } from './http/streaming.js'
export type { StreamingContent, Chunk, FileResponseOptions, ServerSentEvent, EventStreamOptions } from './http/streaming.js'
export {
  HttpException,
  Http404,
  PermissionDenied,
  BadRequest,
  SuspiciousOperation,
  DisallowedHost,
  DisallowedRedirect,
  MiddlewareNotUsed
} from './http/exceptions.js'
export { Resolver404 } from './http/exceptions.js'
export type { ErrorView } from './http/error-policy.js'

export { View } from './views/view.js'
export type { ClassBasedView } from './views/view.js'
export { RedirectView } from './views/redirect-view.js'
export { requireHttpMethods, requireGET, requirePOST, requireSAFE } from './views/decorators.js'
export { redirect, getObjectOr404, getListOr404 } from './views/shortcuts.js'
export type { RedirectOptions } from './views/shortcuts.js'
export type { ViewFunction, ViewResult } from './http/view-types.js'

export type { Middleware, MiddlewareFunction, MiddlewareObject, MiddlewareInstance, GetResponse, ProcessView, ProcessException } from './middleware/types.js'
export { TimingMiddleware, createTimingMiddleware, SecurityMiddleware, createSecurityMiddleware } from './middleware/builtins.js'
export type { TimingOptions, SecurityOptions } from './middleware/builtins.js'

export { csrfExempt, ensureCsrfCookie } from './csrf/decorators.js'
export { getToken, rotateToken } from './csrf/token.js'
export type { CsrfOptions } from './csrf/options.js'
export { render, TemplateResponse } from './templates/render.js'
export type { TemplatesOptions } from './templates/options.js'

export { syncToAsync, asyncToSync, syncView, registerResponseClass } from './sync/api.js'
export type { AsyncVersion, CallOptions, SyncToAsyncOptions, SyncViewOptions } from './sync/api.js'
export { closeSyncBridge } from './sync/bridge.js'
export { threadSensitiveContext } from './sync/context.js'
export type { SyncOptions } from './sync/bridge.js'
export { registerErrorClass } from './sync/serialize.js'

export { AsyncConsumer, AsyncWebsocketConsumer, AsyncJsonWebsocketConsumer } from './channels/consumer.js'
export type { ConsumerHandler, IncomingFrame, OutgoingFrame } from './channels/consumer.js'
export type { HandshakeHeaders } from './channels/handshake.js'
export { StopConsumer, DenyConnection } from './channels/exceptions.js'
export { Scope } from './channels/scope.js'
export { InMemoryChannelLayer } from './channels/memory.js'
export { RedisChannelLayer } from './channels/redis.js'
export type { RedisLayerOptions } from './channels/redis.js'
export type { ChannelLayer, ChannelCapacity, LayerMessage, LayerOptions, LayerLogger, LocalReceiver } from './channels/layer.js'
export type { WebsocketOptions } from './channels/routing.js'
export type { ChannelLayerConfig } from './plugin.js'
export { channelWorker } from './channels/worker.js'
export type { ChannelWorker, ChannelWorkerOptions } from './channels/worker.js'
export type { ChannelScope } from './channels/scope.js'

export type { RequestSession } from './http/session-api.js'
export { Session } from './sessions/session.js'
export type { SessionsOptions } from './sessions/plugin-part.js'
export { AnonymousUser } from './auth/users.js'
export type { AuthBackend, BaseUser, AuthenticatedUser, AnonymousUserType, AnyUser } from './auth/users.js'
export type { AuthOptions } from './auth/plugin-part.js'
export { authenticate, login, logout, updateSessionAuthHash, getUser } from './auth/core.js'
export type { AuthTarget } from './auth/core.js'
export { makePassword, checkPassword, isPasswordUsable } from './auth/hashers.js'
export type { PasswordHasher } from './auth/hashers.js'
export { SessionError, SessionStoreUnavailable } from './errors.js'
export { loginRequired, permissionRequired, userPassesTest, LoginRequiredMixin, PermissionRequiredMixin, UserPassesTestMixin, redirectToLogin } from './auth/decorators.js'
export type { AccessOptions, UserTest } from './auth/decorators.js'
export { isSafeUrl } from './auth/safe-url.js'
export type { SafeUrlOptions } from './auth/safe-url.js'
export { LoginView, LogoutView } from './auth/views.js'
export type { TemplateRenderer } from './auth/views.js'
