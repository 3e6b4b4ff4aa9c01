// What README fragments (blocks under <!-- ts: fragment -->) take from the app
// around them. Only test/readme.test.ts compiles this, and only with fragments.
import type { FastifyInstance } from 'fastify'
import type { AsyncViewsOptions, HttpRequest, RequestUser, URLEntry, ViewFunction } from 'fastify-async-views'

declare global {
  /** The Fastify app the plugin is registered on. */
  const app: FastifyInstance
  const options: AsyncViewsOptions
  const urlpatterns: URLEntry[]
  /** The request a view was given. */
  const request: HttpRequest
  // The app's own views and data.
  const home: ViewFunction<object>
  const yearArchive: ViewFunction<object>
  const articleDetail: ViewFunction<object>
  const monthArchive: ViewFunction<object>
  const serveFile: ViewFunction<object>
  const subscribe: ViewFunction<object>
  const db: {
    article (id: number): Promise<{ id: number, title: string } | null>
    remove (id: number): Promise<void>
  }
  const sessions: { userFor (sid: string | undefined): Promise<RequestUser> }
}

export {}
