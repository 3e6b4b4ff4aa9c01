import t from 'tap'
import { startExample } from './helpers.ts'

t.test('the guide\'s async middleware example', async (t) => {
  const base = await startExample(t, 'examples/middleware/server.ts')
  const hello = await fetch(`${base}/hello/`, { headers: { 'x-request-id': 'abc' } })
  t.equal(hello.status, 200)
  t.same(await hello.json(), { hello: 'world', requestId: 'abc' })
  t.equal(hello.headers.get('x-request-id'), 'abc')
  t.match(hello.headers.get('server-timing') ?? '', /^app;dur=\d+\.\d, view;dur=\d+\.\d$/)
  t.match(hello.headers.get('x-elapsed-ms') ?? '', /^\d+$/)
  const plain = await fetch(`${base}/plain`)
  const body = await plain.json() as { plain: boolean, requestId: string }
  t.equal(body.plain, true)
  t.equal(body.requestId, plain.headers.get('x-request-id'), 'the plain route saw the attribute middleware set')
  t.ok(plain.headers.get('server-timing'))
})
