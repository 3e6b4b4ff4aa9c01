// Deliberate type errors: test/types.test.ts compiles this file with each
// TypeScript and checks that the error on the line after each `// expect:`
// comment says what it quotes. Excluded from `npm run typecheck`.
import { path, rePath, type HttpRequest } from 'fastify-async-views'

// A view returning a string: the error names the view's return type, not `Include`.
// expect: Type 'string' is not assignable to type 'ViewResult'
path('text/', async () => 'text')

// expect: Type 'number' is not assignable to type 'ViewResult'
path('n/<int:id>/', async (_request, { id }) => id)

// expect: Type 'string' is not assignable to type 'ViewResult'
rePath('^text/$', async (_request: HttpRequest) => 'text')

// A sync view, and a view returning a string on one branch only.
// expect: Type 'string' is not assignable to type
path('sync/', () => 'text')

// expect: Type 'string' is not assignable to type 'ViewResult'
path('branch/', async (_request: HttpRequest) => Math.random() > 0.5 ? 'text' : { ok: true })
