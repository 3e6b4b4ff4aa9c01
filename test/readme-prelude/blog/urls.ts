// The module README's URL patterns block includes: `include(import('./blog/urls.js'))`.
import { path } from 'fastify-async-views'

export const appName = 'blog'
export const urlpatterns = [path('', async () => ({ posts: [] }), { name: 'index' })]
