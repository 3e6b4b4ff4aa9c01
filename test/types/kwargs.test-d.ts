// Type tests: checked by `tsc` (npm run typecheck, and test/types.test.ts), never run.
import Fastify from 'fastify'
import asyncViews, { path, rePath, include, View, JsonResponse, AsyncJsonWebsocketConsumer, type KwargsOf, type HttpRequest } from 'fastify-async-views'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true> (): T | undefined { return undefined }

expectType<Equal<KwargsOf<'p/<int:id>/<slug:s>/'>, { id: number, s: string }>>()
expectType<Equal<KwargsOf<'a/<name>/'>, { name: string }>>()
expectType<Equal<KwargsOf<'f/<path:rest>'>, { rest: string }>>()
expectType<Equal<KwargsOf<'u/<uuid:u>/<str:s>/'>, { u: string, s: string }>>()
expectType<Equal<KwargsOf<'static/'>, {}>>()
expectType<Equal<KwargsOf<string>, Record<string, unknown>>>()

// Kwargs are typed in the view from the route string.
path('p/<int:id>/<slug:s>/', async (_request, { id, s }) => {
  const n: number = id
  const text: string = s
  return { n, text }
})

// @ts-expect-error id is a number, not a string
path('p/<int:id>/', async (_request, { id }) => { const wrong: string = id; return { wrong } })

// @ts-expect-error there is no such kwarg
path('p/<int:id>/', async (_request, { nope }) => ({ nope }))

// Custom converters declare their type by declaration merging.
declare module 'fastify-async-views' {
  interface Converters { year: Date }
  interface AsyncViewsTypes { user: { name: string } | null }
}
path('y/<year:when>/', async (_request, { when }) => ({ iso: when.toISOString() }))

// A view returns a response or an object/array, not a string.
// @ts-expect-error a string is not a view result
path('s/', async () => 'text')

// rePath kwargs are strings.
rePath('^a/(?P<x>[0-9]+)/$', async (_request, kwargs) => ({ x: kwargs.x.length }))

// Class-based views, with typed kwargs.
class Detail extends View<{ id: number }> {
  label = 'item'
  async get (_request: HttpRequest, { id }: { id: number }): Promise<JsonResponse> {
    return new JsonResponse({ id: id + 1, label: this.label })
  }
}
path('d/<int:id>/', Detail.asView({ label: 'other' }))
// @ts-expect-error initkwargs must be attributes of the class
Detail.asView({ nope: 1 })

path('inc/', include([path('x/', async () => ({}))], { namespace: 'inc' }))

// The plugin's options and decorations are typed.
const app = Fastify()
app.register(asyncViews, { urlpatterns: [], debug: true, appendSlash: false })
// @ts-expect-error debug is a boolean
app.register(asyncViews, { debug: 'yes' })
const url: string = app.reverse('name', { kwargs: { id: 1 }, query: { a: '1' } })
app.get('/', async (request) => ({ url, again: request.reverse('name') }))

// request.user comes from AsyncViewsTypes.
path('me/', async (request) => ({ name: request.user?.name ?? 'anonymous' }))

// Consumers type their URL kwargs.
class Room extends AsyncJsonWebsocketConsumer<{ room: string }> {
  override async connect (): Promise<void> {
    const room: string = this.scope.urlRoute.kwargs.room
    // @ts-expect-error no such kwarg
    const nope = this.scope.urlRoute.kwargs.nope
    await this.channelLayer.groupAdd(`chat_${room}`, this.channelName)
    await this.accept(nope)
  }
}
path('ws/<str:room>/', Room.asHandler())
