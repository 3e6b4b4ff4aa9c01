// The guide's exceptions, on this package's API. Django turns exceptions that
// escape a view into responses:
//
//   raise Http404('No Article matches the given query.')   # -> 404
//   raise PermissionDenied                                  # -> 403
//   anything else                                           # -> 500, no details unless DEBUG
//
// and lets you change that with a middleware's process_exception() (here a
// domain exception, PaymentRequired, becomes a 402) and with handler404 (the
// body of every 404, unmatched URLs included). A middleware's process_view()
// sees the view before it runs: here it refuses staff-only views to others,
// raising PermissionDenied as a view would.
//
// Run: npx tsx examples/exceptions/server.ts
//      curl -i http://127.0.0.1:3000/articles/1/                                 200
//      curl -i http://127.0.0.1:3000/articles/99/                                404 (through handler404)
//      curl -i http://127.0.0.1:3000/no/such/page/                               404 (through handler404)
//      curl -i http://127.0.0.1:3000/reports/                                    403
//      curl -i -H 'x-staff-token: letmein' http://127.0.0.1:3000/reports/        200
//      curl -i http://127.0.0.1:3000/articles/2/full/                            402 (PaymentRequired, via processException)
//      curl -i -b subscriber=yes http://127.0.0.1:3000/articles/2/full/          200
//      curl -i http://127.0.0.1:3000/crash/                                      500, nothing about the cause
import Fastify from 'fastify'
import asyncViews, { path, Http404, PermissionDenied, JsonResponse, type GetResponse, type HttpRequest, type HttpResponse, type Middleware, type ProcessView } from 'fastify-async-views'

interface Article { id: number, title: string, premium: boolean, price: number }

const ARTICLES = new Map<number, Article>([
  [1, { id: 1, title: 'Async views in Django', premium: false, price: 0 }],
  [2, { id: 2, title: 'Channels in production', premium: true, price: 5 }]
])

/** A domain exception: the views know nothing about HTTP statuses. */
class PaymentRequired extends Error {
  readonly price: number
  constructor (price: number) {
    super(`This article costs ${price} EUR`)
    this.name = 'PaymentRequired'
    this.price = price
  }
}

function getArticle (id: number): Article {
  const article = ARTICLES.get(id)
  if (article === undefined) throw new Http404('No Article matches the given query.')
  return article
}

async function articleDetail (_request: HttpRequest, { id }: { id: number }): Promise<Article> {
  return getArticle(id)
}

async function articleFull (request: HttpRequest, { id }: { id: number }): Promise<Article & { body: string }> {
  const article = getArticle(id)
  if (article.premium && request.COOKIES.subscriber !== 'yes') throw new PaymentRequired(article.price)
  return { ...article, body: 'The whole text.' }
}

// Views marked staff-only, checked by StaffOnlyMiddleware.processView.
const staffOnlyViews = new WeakSet<object>()
function staffOnly<V extends object> (view: V): V {
  staffOnlyViews.add(view)
  return view
}

const staffReport = staffOnly(async function staffReport (_request: HttpRequest): Promise<{ articles: number }> {
  return { articles: ARTICLES.size }
})

async function crash (): Promise<never> {
  // Something a client must never read: it goes to the log, not into the response.
  throw new Error('could not connect to postgres://admin:hunter2@10.0.0.5/shop')
}

// StaffOnlyMiddleware: process_view runs after routing, before the view.
// Raising there is answered as if the view had raised (a 403 here); returning
// a response instead would skip the view. A function middleware carries its
// hooks as properties.
const staffOnlyMiddleware: Middleware = (getResponse) => Object.assign(
  async (request: HttpRequest) => await getResponse(request),
  {
    processView: ((request, view) => {
      if (staffOnlyViews.has(view) && request.headers.get('x-staff-token') !== 'letmein') throw new PermissionDenied('Staff only.')
      return undefined // Not refused: the next processView, then the view.
    }) satisfies ProcessView
  }
)

// class PaymentRequiredMiddleware: process_exception maps the domain exception to a 402.
class PaymentRequiredMiddleware {
  readonly getResponse: GetResponse
  constructor (getResponse: GetResponse) {
    this.getResponse = getResponse
  }

  async call (request: HttpRequest): Promise<HttpResponse> {
    return await this.getResponse(request)
  }

  async processException (_request: HttpRequest, exception: unknown): Promise<HttpResponse | undefined> {
    if (!(exception instanceof PaymentRequired)) return undefined // Not ours: the next hook, then the default.
    return new JsonResponse({ error: 'Payment Required', message: exception.message, price: exception.price, currency: 'EUR' }, { status: 402 })
  }
}

// handler404(request, exception): every 404, whether a view raised Http404 or
// no pattern matched. Like Django's, it must return the 404 response itself.
async function pageNotFound (request: HttpRequest, _exception?: unknown): Promise<JsonResponse> {
  return new JsonResponse({ error: 'Not Found', message: 'The page you asked for does not exist.', path: request.path }, { status: 404 })
}

export const urlpatterns = [
  path('articles/<int:id>/', articleDetail, { name: 'article-detail' }),
  path('articles/<int:id>/full/', articleFull, { name: 'article-full' }),
  path('reports/', staffReport, { name: 'staff-report' }),
  path('crash/', crash, { name: 'crash' })
]

const app = Fastify({ logger: true })
await app.register(asyncViews, {
  urlpatterns,
  middleware: [staffOnlyMiddleware, PaymentRequiredMiddleware],
  handler404: pageNotFound,
  debug: process.env.DEBUG === '1' // Django's DEBUG: stack traces in 500 bodies. Never in production.
})
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
