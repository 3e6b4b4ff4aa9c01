// The guide's other answer: "use database libraries that support asynchronous
// queries". With an async driver there is nothing to bridge: the view awaits
// the query and the event loop serves other requests meanwhile. In Python,
// with the `databases` library:
//
//   async def async_db_view(request):
//       rows = await database.fetch_all('SELECT id, title, body FROM posts ORDER BY id')
//       return JsonResponse({'posts': [dict(row) for row in rows]})
//
// Here `pg` against the local PostgreSQL (DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/test); the table (PG_TABLE, default
// example_posts) is created and seeded when missing.
//
// Run: npx tsx examples/database/pg.ts
//      curl http://127.0.0.1:3000/posts/
//      curl http://127.0.0.1:3000/posts/1/
import Fastify from 'fastify'
import pg from 'pg'
import asyncViews, { path, getObjectOr404, JsonResponse, type HttpRequest } from 'fastify-async-views'

interface Post { id: number, title: string, body: string }

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' })
const table = pg.escapeIdentifier(process.env.PG_TABLE ?? 'example_posts')

const SEED = [
  ['Async views', 'An async view awaits; the event loop serves others meanwhile.'],
  ['Async drivers', 'pg speaks the protocol on the event loop: no thread needed.'],
  ['sync_to_async', 'Only for code that blocks, such as better-sqlite3.']
]

async function migrate (): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    // Two servers starting at once would both create and seed: one waits for the other.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [table])
    await client.query(`CREATE TABLE IF NOT EXISTS ${table} (id serial PRIMARY KEY, title text NOT NULL, body text NOT NULL)`)
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)
    if (rows[0].n === 0) {
      await client.query(`INSERT INTO ${table} (title, body) SELECT * FROM unnest($1::text[], $2::text[])`, [SEED.map((p) => p[0]), SEED.map((p) => p[1])])
    }
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK')
    throw error
  } finally {
    client.release()
  }
}

// async_db_view
async function postList (_request: HttpRequest): Promise<JsonResponse> {
  const { rows } = await pool.query<Post>(`SELECT id, title, body FROM ${table} ORDER BY id`)
  return new JsonResponse({ posts: rows })
}

async function postDetail (_request: HttpRequest, { id }: { id: number }): Promise<JsonResponse> {
  const { rows } = await pool.query<Post>(`SELECT id, title, body FROM ${table} WHERE id = $1`, [id])
  return new JsonResponse(await getObjectOr404(rows[0], 'No Post matches the given query.'))
}

export const urlpatterns = [
  path('posts/', postList, { name: 'post-list' }),
  path('posts/<int:id>/', postDetail, { name: 'post-detail' })
]

const app = Fastify({ logger: true })
// An idle client losing its connection (a database restart) must not crash the server.
pool.on('error', (error) => { app.log.error(error, 'idle PostgreSQL client failed') })
app.addHook('onClose', async () => { await pool.end() })
await migrate()
await app.register(asyncViews, { urlpatterns })
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
