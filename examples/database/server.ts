// The guide's database view, in Node terms:
//
//   from asgiref.sync import sync_to_async
//   from django.http import JsonResponse
//   from .models import Post
//
//   async def async_db_view(request):
//       posts = await sync_to_async(Post.objects.all)()
//       return JsonResponse({'posts': list(posts.values())})
//
// better-sqlite3 is synchronous, as Django's ORM is: db.ts runs on the bridge's
// thread-sensitive workers, so the event loop keeps serving other requests
// while a query runs. As in Django, each request's calls share one worker (one
// connection, calls in order) and different requests run in parallel on up to
// `sync.maxThreads` workers (SYNC_THREADS=1: every call on one connection, one
// at a time). pg.ts shows the other answer: an async driver, awaited directly.
//
// Run: npx tsx examples/database/server.ts        (DB_PATH=/some/file.db to pick the SQLite file)
//      curl http://127.0.0.1:3000/posts/
//      curl http://127.0.0.1:3000/posts/1/
//      curl -d '{"title":"Hello","body":"From curl"}' -H 'content-type: application/json' http://127.0.0.1:3000/posts/
//      curl 'http://127.0.0.1:3000/posts/?delay=500'  (a slow query: /ping/ still answers at once)
import Fastify from 'fastify'
import asyncViews, { path, syncToAsync, getObjectOr404, JsonResponse, View, BadRequest, type HttpRequest } from 'fastify-async-views'

// Made once, at module level, as with sync_to_async. The module is named by an
// absolute URL because it is imported again on the worker thread.
const db = new URL('./db.ts', import.meta.url)
const allPosts = syncToAsync<typeof import('./db.ts').allPosts>(db, 'allPosts')
const getPost = syncToAsync<typeof import('./db.ts').getPost>(db, 'getPost')
const createPost = syncToAsync<typeof import('./db.ts').createPost>(db, 'createPost')

class PostList extends View {
  // async_db_view
  async get (request: HttpRequest): Promise<JsonResponse> {
    const delayMs = Number(request.GET.get('delay') ?? 0)
    if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > 5000) throw new BadRequest('delay must be an integer from 0 to 5000 (ms)')
    // A client that leaves before its turn on the worker drops its call.
    const posts = await allPosts({ delayMs }, { signal: request.signal })
    return new JsonResponse({ posts })
  }

  async post (request: HttpRequest): Promise<JsonResponse> {
    const data = request.json<{ title?: unknown, body?: unknown } | null>()
    if (typeof data?.title !== 'string' || data.title.trim() === '' || typeof data.body !== 'string') {
      throw new BadRequest('Expected a JSON object with a non-empty "title" and a "body" string')
    }
    const post = await createPost({ title: data.title, body: data.body })
    return new JsonResponse(post, { status: 201, headers: { location: request.reverse('post-detail', { kwargs: { id: post.id } }) } })
  }
}

async function postDetail (_request: HttpRequest, { id }: { id: number }): Promise<JsonResponse> {
  return new JsonResponse(await getObjectOr404(getPost(id), 'No Post matches the given query.'))
}

export const urlpatterns = [
  path('posts/', PostList.asView(), { name: 'post-list' }),
  path('posts/<int:id>/', postDetail, { name: 'post-detail' }),
  // Never touches the database: answers at once even while queries run.
  path('ping/', async () => ({ pong: true }), { name: 'ping' })
]

const app = Fastify({ logger: true })
await app.register(asyncViews, { urlpatterns, sync: process.env.SYNC_THREADS ? { maxThreads: Number(process.env.SYNC_THREADS) } : {} })
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // app.close() also ends the bridge's worker, closing the SQLite connection.
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
