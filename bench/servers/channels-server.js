// One group fan-out server of the redis suite: the plugin with WebSocket consumers.
//
//   node bench/servers/channels-server.js memory [port]
//   node bench/servers/channels-server.js redis <redis-url> <prefix> [port]
//
// ws/room/    a JSON consumer in group `room` (joined through `groups`) that
//             forwards every `room.message` event to its client with sendJson.
// ws/small/   the same consumer in group `small` (for the commands count).
// ws/send/    the sender: each JSON frame { group?, id, t, body } becomes one
//             groupSend(group ?? 'room', { type: 'room.message', id, t, body }).
//
// Port 0 (the default) takes a free port, announced as `{"ready":true,"port":N}`.
import Fastify from 'fastify'
import asyncViews, { AsyncJsonWebsocketConsumer, path } from 'fastify-async-views'
import { serve } from './serve.js'

const [backend, ...rest] = process.argv.slice(2)
let channelLayer
let portArg
if (backend === 'memory') {
  channelLayer = { backend: 'memory' }
  portArg = rest[0]
} else if (backend === 'redis' && rest.length >= 2) {
  channelLayer = { backend: 'redis', url: rest[0], prefix: rest[1] }
  portArg = rest[2]
} else {
  console.error('usage: channels-server.js memory [port] | redis <url> <prefix> [port]')
  process.exit(2)
}

class Room extends AsyncJsonWebsocketConsumer {
  groups = ['room']

  async roomMessage (event) {
    await this.sendJson({ id: event.id, t: event.t, body: event.body })
  }
}

class Sender extends AsyncJsonWebsocketConsumer {
  async receiveJson (content) {
    await this.channelLayer.groupSend(content.group ?? 'room', { type: 'room.message', id: content.id, t: content.t, body: content.body })
  }
}

const app = Fastify({ logger: false })
await app.register(asyncViews, {
  websocket: {
    urlpatterns: [
      path('ws/room/', Room.asHandler()),
      path('ws/small/', Room.asHandler({ groups: ['small'] })),
      path('ws/send/', Sender.asHandler())
    ]
  },
  channelLayer
})

await serve(app, portArg ?? 0, `channels-${backend}`)
