// What an idle WebSocket connection keeps alive (50,000 of them in one process:
// bench/ws-50k.js). Found there: a closure made per connection inside the
// route's preHandler kept that hook's context, and with it Fastify's hook
// runner for the request, as long as the socket stayed open.
import t from 'tap'
import Fastify from 'fastify'
import WebSocket from 'ws'
import asyncViews, { path, AsyncJsonWebsocketConsumer, type LayerMessage } from 'fastify-async-views'
import { heapAfterGc } from './fault-helpers.ts'
import { sleep } from './helpers.ts'

class Room extends AsyncJsonWebsocketConsumer {
  override groups = ['room']
  async roomMessage (event: LayerMessage): Promise<void> { await this.sendJson({ n: event.n }) }
}

const seen: Room[] = []
class Seen extends Room {
  override async connect (): Promise<void> {
    seen.push(this)
    await this.accept()
  }
}

t.test('an open connection keeps neither the hook runner nor per-connection route objects', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  // Fastify passes one `done` (its hook runner's `next`) to every preHandler of a request.
  const runners: Array<WeakRef<() => void>> = []
  app.addHook('preHandler', (_request, _reply, done) => {
    runners.push(new WeakRef(done))
    done()
  })
  await app.register(asyncViews, { websocket: { urlpatterns: [path('ws/room/', Seen.asHandler()), path('ws/<int:id>/', Seen.asHandler())] } })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const url = address.replace('http', 'ws')
  const sockets: WebSocket[] = []
  t.teardown(() => { for (const ws of sockets) ws.terminate() })
  const received: unknown[] = []
  for (const target of ['/ws/room/', '/ws/room/', '/ws/7/']) {
    const ws = new WebSocket(url + target)
    ws.on('message', (data) => received.push(JSON.parse(String(data))))
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    sockets.push(ws)
  }
  await sleep(50)
  heapAfterGc()
  await sleep(10)
  heapAfterGc()
  t.equal(runners.length, 3, 'the hook ran for each handshake')
  t.same(runners.map((ref) => ref.deref() === undefined), [true, true, true], "no open connection keeps its request's hook runner")
  t.equal(seen[0].scope.urlRoute, seen[1].scope.urlRoute, 'connections to a URL that captures nothing share one urlRoute')
  t.ok(Object.isFrozen(seen[0].scope.urlRoute) && Object.isFrozen(seen[0].scope.urlRoute.kwargs), 'which is frozen')
  t.same(seen[2].scope.urlRoute, { args: [], kwargs: { id: 7 } }, 'one that captures has its own')
  await app.channelLayer.groupSend('room', { type: 'room.message', n: 1 })
  await sleep(100)
  t.same(received, [{ n: 1 }, { n: 1 }, { n: 1 }], 'and the connections still work')
})
