import { ERR_CONTENT_NOT_RENDERED, ImproperlyConfigured, TemplateDoesNotExist, TemplateSyntaxError } from '../errors.js'
import type { HttpRequest } from '../http/request.js'
import { HttpResponse, type Content, type ReplyLike, type ResponseOptions, type SendContext } from '../http/response.js'
import { messageOf } from '../http/problems.js'
import { basename } from 'node:path'
import { kApply } from '../symbols.js'
import { csrfStateOf, getToken } from '../csrf/token.js'
import { templatesOf } from './engine.js'

/** `{{ csrfToken }}`: the token, made (and its cookie set) only when a template reads it, as Django's lazy one. */
class LazyCsrfToken {
  readonly #request: HttpRequest
  constructor (request: HttpRequest) { this.#request = request }
  toString (): string { return getToken(this.#request) }
  toJSON (): string { return this.toString() }
}

/** What every template sees (Django's context processors); the view's context wins over it. */
function contextFor (request: HttpRequest, context: Record<string, unknown> | undefined): Record<string, unknown> {
  let user: unknown
  try {
    // Set by the auth part or a hook; a getter that throws is no user.
    user = request.user
  } catch {}
  return {
    request,
    user,
    csrfToken: csrfStateOf(request) === undefined ? undefined : new LazyCsrfToken(request),
    url: (name: string, kwargs?: Record<string, unknown> | unknown[]) => request.reverse(name, Array.isArray(kwargs) ? { args: kwargs } : { kwargs }),
    ...context
  }
}

/** Django's `render_to_string` with a request: the template rendered, or TemplateDoesNotExist / TemplateSyntaxError. */
export async function renderToString (request: HttpRequest, templateName: string, context?: Record<string, unknown>): Promise<string> {
  const templates = templatesOf(request)
  if (templates === undefined) throw new ImproperlyConfigured("Rendering a template needs the option 'templates'")
  try {
    return await templates.view(templateName, contextFor(request, context))
  } catch (error) {
    throw templateError(templateName, error)
  }
}

/**
 * nunjucks' errors carry the template's absolute path in their message:
 * ours name the template, line and column only (the original stays as `cause`).
 */
function templateError (templateName: string, error: unknown): Error {
  const message = messageOf(error)
  const missing = /template not found: ([^\n]*)/.exec(message)
  if (missing !== null) return new TemplateDoesNotExist(missing[1].trim(), { cause: error })
  // nunjucks: "(<absolute path>) [Line 2, Column 7]\n  <message>".
  const head = /^\(([^)]*)\)(?: \[Line (\d+)(?:, Column (\d+))?\])?/.exec(message)
  const file = head === null || head[1] === 'unknown path' || head[1].endsWith(templateName) ? templateName : basename(head[1])
  const where = head?.[2] === undefined ? '' : `, line ${head[2]}${head[3] === undefined ? '' : `, column ${head[3]}`}`
  const own = message.slice(message.lastIndexOf('\n') + 1).trim().replace(/^Error: /, '')
  return new TemplateSyntaxError(`${file}${where}: ${own}`, { cause: error })
}

/** Django's `render()`: an HttpResponse holding the rendered template. */
export async function render (request: HttpRequest, templateName: string, context?: Record<string, unknown>, options?: ResponseOptions): Promise<HttpResponse> {
  return new HttpResponse(await renderToString(request, templateName, context), options)
}

/**
 * Django's TemplateResponse: rendered when it is sent, after the middleware's
 * response phase, so middleware may still change `templateName` and `contextData`.
 */
export class TemplateResponse extends HttpResponse {
  templateName: string
  contextData: Record<string, unknown>
  readonly #request: HttpRequest
  #rendered = false

  constructor (request: HttpRequest, templateName: string, context: Record<string, unknown> = {}, options?: ResponseOptions) {
    super('', options)
    this.#request = request
    this.templateName = templateName
    this.contextData = context
  }

  get isRendered (): boolean { return this.#rendered }

  /** Renders the template into `content` (once). */
  async render (): Promise<this> {
    if (!this.#rendered) {
      const html = await renderToString(this.#request, this.templateName, this.contextData)
      if (!this.#rendered) {
        super.content = html
        this.#rendered = true
      }
    }
    return this
  }

  /** The rendered bytes; reading them before `render()` is an error, as in Django. */
  override get content (): Buffer {
    if (!this.#rendered) throw new ERR_CONTENT_NOT_RENDERED('The response content must be rendered before it can be accessed (await response.render())')
    return super.content
  }

  /** Setting content replaces the template (Django marks the response rendered). */
  override set content (value: Content) {
    super.content = value
    this.#rendered = true
  }

  override get text (): string {
    if (!this.#rendered) throw new ERR_CONTENT_NOT_RENDERED('The response content must be rendered before it can be accessed (await response.render())')
    return super.text
  }

  override [kApply] (reply: ReplyLike, context: SendContext): unknown {
    if (this.#rendered) return super[kApply](reply, context)
    return this.render().then(() => super[kApply](reply, context))
  }
}
