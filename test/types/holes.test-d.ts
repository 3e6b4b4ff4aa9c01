// Type holes that let wrong code compile, each pinned by an @ts-expect-error line.
// Checked by test/types.test.ts on TypeScript 5.9 and 7, never run.
import Fastify from 'fastify'
import asyncViews, {
  path,
  rePath,
  Http404,
  HttpResponse,
  JsonResponse,
  AsyncJsonWebsocketConsumer,
  AsyncWebsocketConsumer,
  type ErrorView,
  type GetResponse,
  type HttpRequest,
  type Middleware
} from 'fastify-async-views'

// A view that only throws: TypeScript infers `Promise<void>` for an async
// function declaration that never returns, `Promise<never>` for an arrow.
async function missing (_request: HttpRequest): Promise<void> { throw new Http404() }
function missingSync (_request: HttpRequest): void { throw new Http404() }
path('missing/', missing)
path('missing-sync/', missingSync)
path('gone/', async () => { throw new Http404() })
rePath('^gone/$', missing)

// A middleware instance is a function of (request, getResponse) or an object
// with `call`; any other function is not one (every function has
// Function.prototype.call).
const timing: Middleware = (getResponse) => async (request) => {
  const response = await getResponse(request)
  response.headers.set('x-t', '1')
  return response
}
class Auth {
  constructor (private readonly getResponse: GetResponse) {}
  async call (request: HttpRequest): Promise<HttpResponse> { return await this.getResponse(request) }
}
// @ts-expect-error a function that takes nothing and returns nothing is not a middleware
const noop: Middleware = () => function () {}
// @ts-expect-error a middleware returns a response
const wrong: Middleware = () => (_request: HttpRequest) => 'text'
// @ts-expect-error a factory must return the middleware instance
const noInstance: Middleware = () => {}
// @ts-expect-error a class whose instances have no `call` is not a middleware
const notMiddleware: Middleware = class { constructor (readonly getResponse: GetResponse) {} }

// Error views return what a view returns.
const handler404: ErrorView = async (request) => new JsonResponse({ missing: request.path }, { status: 404 })
const app = Fastify()
app.register(asyncViews, { middleware: [timing, Auth], handler404, handler500: () => new HttpResponse('down', { status: 500 }) })
// @ts-expect-error a string is not a response
app.register(asyncViews, { handler404: async () => 'not found' })
// @ts-expect-error a number is not a response
app.register(asyncViews, { handler500: () => 500 })
// @ts-expect-error an ErrorView returns a response or plain data
const textHandler: ErrorView = () => 'text'

// A consumer's type parameter types its URL kwargs; the route must give them.
class Room extends AsyncJsonWebsocketConsumer<{ room: string }> {
  override async connect (): Promise<void> {
    const room: string = this.scope.urlRoute.kwargs.room
    await this.channelLayer.groupAdd(`chat_${room}`, this.channelName)
    await this.accept()
  }
}
class Counter extends AsyncWebsocketConsumer<{ n: number }> {}
path('ws/<str:room>/', Room.asHandler())
path('ws/<int:n>/', Counter.asHandler())
// @ts-expect-error the route gives `room` as a number, the consumer wants a string
path('ws/<int:room>/', Room.asHandler())
// @ts-expect-error the route gives no `room`
path('ws/<str:name>/', Room.asHandler())

export { noop, wrong, noInstance, notMiddleware, textHandler }
