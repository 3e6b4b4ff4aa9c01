import t from 'tap'
import Fastify from 'fastify'
import WebSocket, { WebSocketServer } from 'ws'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import asyncViews, { AsyncWebsocketConsumer, path } from 'fastify-async-views'
import { compatProblems, contentTypeParserOf, isFastifyDefaultErrorHandler, parseExtensions, parseSubprotocols, routeConfig, sendFrame, textFrame, trustsForwardedProto, wsErrorCloseCode } from '../dist/compat.js'

// Each private shape lib/compat.ts relies on, checked on the installed
// dependencies. A failure here after an upgrade means a fallback is in use:
// update the reach in lib/compat.ts (or drop it), never this test.

t.test("Fastify's default error handler is told apart from a user's", async (t) => {
  const app = Fastify()
  t.ok(isFastifyDefaultErrorHandler(app.errorHandler), 'a new app has the default')
  app.setErrorHandler(function mine (_error, _request, reply) { reply.send('x') })
  t.notOk(isFastifyDefaultErrorHandler(app.errorHandler), 'a set handler is the user\'s')
  await app.close()
})

t.test("a route's config is read through Fastify's route context", async (t) => {
  const app = Fastify()
  const seen: unknown[] = []
  app.get('/x', { config: { tag: 'mine' } }, async (req) => {
    seen.push(routeConfig(req)?.tag)
    return 'ok'
  })
  await app.inject('/x')
  t.same(seen, ['mine'])
  await app.close()
})

t.test("a content-type parser is read from Fastify's parser table", async (t) => {
  const app = Fastify()
  const mine = (_req: unknown, _payload: unknown, done: (error: Error | null, body?: unknown) => void): void => { done(null, 'mine') }
  app.addContentTypeParser('application/x-mine', mine)
  t.equal(contentTypeParserOf(app, 'application/x-mine'), mine)
  t.equal(contentTypeParserOf(app, 'application/x-none'), undefined)
  t.same(compatProblems(), [])
  await app.close()
})

t.test("X-Forwarded-Proto trust follows Fastify's trustProxy", async (t) => {
  for (const trustProxy of [true, false]) {
    const app = Fastify({ trustProxy })
    let trusted: boolean | undefined
    app.get('/x', async (req) => {
      trusted = trustsForwardedProto(req, 'http')
      return 'ok'
    })
    await app.inject({ url: '/x', headers: { 'x-forwarded-proto': 'https' } })
    t.equal(trusted, trustProxy, `trustProxy ${trustProxy}`)
    await app.close()
  }
})

t.test("ws's parsers, frame builder and close codes", async (t) => {
  t.ok(parseSubprotocols, 'subprotocol parser')
  t.ok(parseExtensions, 'extension parser')
  t.throws(() => parseSubprotocols?.('chat, chat'), 'a repeated subprotocol is malformed')
  const frame = textFrame('hello')
  t.ok(Array.isArray(frame) && frame.length === 1, 'a text frame is one buffer')
  t.same([...(frame as Buffer[])[0].subarray(2)], [...Buffer.from('hello')], 'header then payload')

  // A real server and client: the prebuilt frame goes through the sender, and a
  // frame over maxPayload gives ws's error carrying close code 1009.
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 10 })
  await once(wss, 'listening')
  t.teardown(() => new Promise<void>((resolve) => { wss.close(() => resolve()) }))
  const { port } = wss.address() as AddressInfo
  const serverSide = once(wss, 'connection')
  const client = new WebSocket(`ws://127.0.0.1:${port}`)
  await once(client, 'open')
  const [socket] = await serverSide as [WebSocket]
  const got = once(client, 'message')
  t.ok(sendFrame(socket, frame as Buffer[]), 'an idle sender takes the frame')
  t.equal(String((await got)[0]), 'hello')
  const failed = once(socket, 'error')
  client.send('x'.repeat(100))
  const [error] = await failed as [Error]
  t.equal(wsErrorCloseCode(error), 1009, "ws's error says 1009")
  client.terminate()
})

t.test('a running app falls back nowhere', async (t) => {
  class Echo extends AsyncWebsocketConsumer {
    override async receive ({ text }: { text?: string }): Promise<void> { await this.send({ text: text ?? '' }) }
  }
  const app = Fastify()
  await app.register(asyncViews, {
    urlpatterns: [path('x/', async () => ({ ok: true }))],
    middleware: [(getResponse) => async (request) => await getResponse(request)],
    websocket: { urlpatterns: [path('ws/', Echo.asHandler())] }
  })
  app.get('/plain', async () => 'plain')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  t.equal((await app.inject('/x/')).statusCode, 200)
  t.equal((await app.inject('/plain')).statusCode, 200)
  const client = new WebSocket(`ws://127.0.0.1:${port}/ws/`)
  await once(client, 'open')
  client.send('hi')
  t.equal(String((await once(client, 'message'))[0]), 'hi')
  client.close()
  t.same(compatProblems(), [], 'every private reach holds on the installed versions')
})

t.test("a view route's context drops the plain-route hooks on its first request; plain routes keep them", async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, {
    urlpatterns: [path('x/', async () => ({ ok: true }))],
    middleware: [(getResponse) => async (request) => await getResponse(request)]
  })
  app.get('/plain', async () => 'plain')
  await app.ready()
  // The hook lines (•) printed under the route's own line.
  const hooksOf = (url: string): string => {
    const lines = app.printRoutes({ includeHooks: true, commonPrefix: false }).split(url)[1].split('\n').slice(1)
    return lines.slice(0, lines.findIndex((line) => !line.includes('•'))).join(' ')
  }
  t.match(hooksOf('/x/ ('), /asyncViewsNotFound.*asyncViewsPlainRoutes/s, 'before any request the view route inherited both')
  t.equal((await app.inject('/x/')).statusCode, 200)
  t.notMatch(hooksOf('/x/ ('), /asyncViews(NotFound|PlainRoutes)/, 'after its first request the view route runs neither')
  t.equal((await app.inject('/x/')).statusCode, 200, 'and still answers')
  t.equal((await app.inject('/plain')).statusCode, 200)
  t.match(hooksOf('/plain ('), /asyncViewsNotFound.*asyncViewsPlainRoutes/s, 'a plain route keeps both (its requests enter the chain through them)')
  t.equal((await app.inject('/nothing/')).statusCode, 404)
})
