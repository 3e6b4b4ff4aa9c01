// Type tests of the csrf and templates options and helpers: checked by `tsc`, never run.
import Fastify from 'fastify'
import asyncViews, {
  path, render, TemplateResponse, csrfExempt, ensureCsrfCookie, getToken, rotateToken, HttpResponse,
  type HttpRequest, type CsrfOptions, type TemplatesOptions
} from 'fastify-async-views'

const detail = async (request: HttpRequest, { id }: { id: number }): Promise<HttpResponse> =>
  await render(request, 'detail.html', { id, token: getToken(request) }, { status: 200 })
// The decorators keep the view's type, kwargs included.
const exempt: typeof detail = csrfExempt(detail)
const ensured: typeof detail = ensureCsrfCookie(detail)
const lazy = (request: HttpRequest): TemplateResponse => new TemplateResponse(request, 'x.html', { a: 1 })
const rotated: void = rotateToken({} as HttpRequest)

const csrf: CsrfOptions = { cookieName: 'csrftoken', headerName: 'X-CSRFToken', fieldName: 'csrfmiddlewaretoken', trustedOrigins: ['https://*.a.com'], useSessions: false }
const templates: TemplatesOptions = { dirs: ['templates'], noCache: true, globals: { site: 'x' }, filters: { up: (s: string) => s.toUpperCase() } }

const app = Fastify()
await app.register(asyncViews, {
  secretKey: ['new key of thirty-two characters!', 'old key of thirty-two characters!'],
  csrf,
  templates,
  urlpatterns: [path('d/<int:id>/', exempt), path('e/<int:id>/', ensured), path('l/', lazy)]
})
await app.register(asyncViews, { secretKey: 'k', csrf: true })
// @ts-expect-error csrf is true or an object
await app.register(asyncViews, { csrf: 'on' })
// @ts-expect-error dirs are strings
await app.register(asyncViews, { templates: { dirs: 1 } })
// @ts-expect-error render needs a request
await render('x.html')
export { rotated }
