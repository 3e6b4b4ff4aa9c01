// One WebSocket benchmark server: `node [--expose-gc] bench/servers/ws-server.js <variant> [port]`.
//
//   raw     Fastify + @fastify/websocket handlers written by hand
//   plugin  the same endpoints as consumers of fastify-async-views
//
// Both serve:
//   /echo    (WebSocket) every text frame is sent back as it came
//   /fanout  (WebSocket) every member is in group 'bench'; a text frame
//            {"seq":n,"t":ms} from any member is broadcast to all of them
//            as {"type":"bench.message","seq":n,"t":ms}
//   /stats   (GET) { connections }: WebSockets open right now
//   /memory  (GET) process.memoryUsage() after full GCs (needs --expose-gc)
//
// The ready line `{"ready":true,"port":N}` on stdout is what run.js waits for.
import Fastify from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import asyncViews, { path, AsyncWebsocketConsumer, AsyncJsonWebsocketConsumer } from 'fastify-async-views'
import { serve } from './serve.js'

const [variant, portArg = '0'] = process.argv.slice(2)
const app = Fastify({ logger: false })
let connections = 0
const GROUP = 'bench'

if (variant === 'raw') {
  await app.register(fastifyWebsocket, { options: { maxPayload: 1048576 } })
  // Groups as a Map of Sets, the way one writes it by hand.
  const groups = new Map([[GROUP, new Set()]])
  app.register(async function routes (app) {
    app.get('/echo', { websocket: true }, (socket) => {
      connections++
      socket.on('message', (data) => socket.send(data.toString()))
      socket.once('close', () => { connections-- })
    })
    app.get('/fanout', { websocket: true }, (socket) => {
      connections++
      const members = groups.get(GROUP)
      members.add(socket)
      socket.on('message', (data) => {
        const { seq, t } = JSON.parse(data.toString())
        const event = { type: 'bench.message', seq, t }
        // One JSON.stringify per delivery, as the consumer's sendJson does.
        for (const member of members) member.send(JSON.stringify(event))
      })
      socket.once('close', () => {
        connections--
        members.delete(socket)
      })
    })
  })
} else if (variant === 'plugin') {
  class Echo extends AsyncWebsocketConsumer {
    async connect () {
      await this.accept()
      connections++
    }

    async receive ({ text }) {
      await this.send({ text })
    }

    async disconnect () {
      connections--
    }
  }

  class Fanout extends AsyncJsonWebsocketConsumer {
    groups = [GROUP]

    async connect () {
      await this.accept()
      connections++
    }

    async receiveJson ({ seq, t }) {
      await this.channelLayer.groupSend(GROUP, { type: 'bench.message', seq, t })
    }

    async benchMessage (event) {
      await this.sendJson(event)
    }

    async disconnect () {
      connections--
    }
  }

  await app.register(asyncViews, {
    urlpatterns: [],
    websocket: {
      urlpatterns: [
        path('echo', Echo.asHandler()),
        path('fanout', Fanout.asHandler())
      ]
    }
  })
} else {
  console.error(`unknown variant ${JSON.stringify(variant)} (raw | plugin)`)
  process.exit(2)
}

app.get('/stats', async () => ({ connections }))
app.get('/memory', async () => {
  if (typeof globalThis.gc !== 'function') throw new Error('start the server with --expose-gc')
  // A few full collections with turns of the loop between them, so that
  // finalizers and weak references settle.
  for (let i = 0; i < 4; i++) {
    globalThis.gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return { connections, ...process.memoryUsage() }
})

await serve(app, portArg, 'ws')
