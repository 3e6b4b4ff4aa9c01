// Django's LoginView and LogoutView. Templates are rendered by the `templates`
// option's render() (or one given to asView({ render })); without either, a
// minimal built-in page stands in.
import type { HttpRequest } from '../http/request.js'
import { HttpResponse, HttpResponseRedirect } from '../http/response.js'
import type { ViewResult } from '../http/view-types.js'
import { View } from '../views/view.js'
import { authOf, authenticate, login, logout } from './core.js'
import { isSafeUrl } from './safe-url.js'
import { userOf } from './decorators.js'
import { kRender } from '../symbols.js'

/** Renders a template to a response (the signature of the templates part's `render`). */
export type TemplateRenderer = (request: HttpRequest, name: string, context: Record<string, unknown>, options?: { status?: number }) => Promise<HttpResponse> | HttpResponse

/** Django's AuthenticationForm error. */
export const INVALID_LOGIN = 'Please enter a correct username and password. Note that both fields may be case-sensitive.'

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/** `next` from POST or GET when it is safe for this request (Django's get_redirect_url). */
export function safeNext (request: HttpRequest, field = 'next'): string {
  const next = request.POST.get(field) ?? request.GET.get(field) ?? ''
  return isSafeUrl(next, { allowedHosts: [request.getHost()], requireHttps: request.isSecure() }) ? next : ''
}

/** Django's LoginView: GET shows the form, a good POST logs in and redirects (303-free: 302), a bad one shows it again (200). */
export class LoginView extends View {
  templateName = 'registration/login.html'
  redirectFieldName = 'next'
  /** Redirect users who are logged in already, instead of showing the form. */
  redirectAuthenticatedUser = false
  /** Where to go without a safe `next` (default: the option `auth.loginRedirectUrl`). */
  nextPage: string | undefined = undefined
  /** The template renderer; `LoginView.asView({ render })`. */
  render: TemplateRenderer | undefined = undefined

  async get (request: HttpRequest): Promise<ViewResult> {
    if (this.redirectAuthenticatedUser && userOf(request).isAuthenticated) return new HttpResponseRedirect(this.getSuccessUrl(request))
    return await this.renderForm(request, [], 200)
  }

  async post (request: HttpRequest): Promise<ViewResult> {
    const username = request.POST.get('username') ?? ''
    const password = request.POST.get('password') ?? ''
    const user = username === '' || password === '' ? null : await authenticate(request, { username, password })
    if (user === null) return await this.renderForm(request, [INVALID_LOGIN], 200)
    await login(request, user)
    return new HttpResponseRedirect(this.getSuccessUrl(request))
  }

  getSuccessUrl (request: HttpRequest): string {
    const next = safeNext(request, this.redirectFieldName)
    return next !== '' ? next : this.nextPage ?? authOf(request.fastify).loginRedirectUrl
  }

  async renderForm (request: HttpRequest, errors: string[], status: number): Promise<HttpResponse> {
    const context = { form: { errors, username: request.POST.get('username') ?? '' }, next: safeNext(request, this.redirectFieldName), redirectFieldName: this.redirectFieldName }
    const render = rendererOf(this.render, request)
    if (render !== undefined) return await render(request, this.templateName, context, { status })
    const list = errors.map((e) => `<li>${escape(e)}</li>`).join('')
    return new HttpResponse(`<!doctype html><title>Log in</title><form method="post">${list === '' ? '' : `<ul class="errorlist">${list}</ul>`}` +
      `<input name="username" value="${escape(context.form.username)}" autocomplete="username"><input name="password" type="password" autocomplete="current-password">` +
      `<input type="hidden" name="${escape(this.redirectFieldName)}" value="${escape(context.next)}"><button>Log in</button></form>`, { status, contentType: 'text/html; charset=utf-8' })
  }
}

/** Django 5's LogoutView: POST only (GET is 405), then a safe `next`, `nextPage`, or the logged-out page. */
export class LogoutView extends View {
  templateName = 'registration/logged_out.html'
  redirectFieldName = 'next'
  nextPage: string | undefined = undefined
  render: TemplateRenderer | undefined = undefined

  async post (request: HttpRequest): Promise<ViewResult> {
    await logout(request)
    const next = safeNext(request, this.redirectFieldName)
    if (next !== '') return new HttpResponseRedirect(next)
    if (this.nextPage !== undefined) return new HttpResponseRedirect(this.nextPage)
    const render = rendererOf(this.render, request)
    if (render !== undefined) return await render(request, this.templateName, {})
    return new HttpResponse('<!doctype html><title>Logged out</title><p>Logged out.</p>', { contentType: 'text/html; charset=utf-8' })
  }
}

/** The view's own renderer, else the `templates` option's render(), else none (the built-in page). */
function rendererOf (own: TemplateRenderer | undefined, request: HttpRequest): TemplateRenderer | undefined {
  return own ?? (request.fastify.server as { [kRender]?: TemplateRenderer })[kRender]
}
