// The README's main example: Channels' chat tutorial, in Node terms.
//
//   class ChatConsumer(AsyncJsonWebsocketConsumer):
//       async def connect(self):
//           self.room_group_name = f"chat_{self.scope['url_route']['kwargs']['room']}"
//           await self.channel_layer.group_add(self.room_group_name, self.channel_name)
//           await self.accept()
//       async def receive_json(self, content):
//           await self.channel_layer.group_send(self.room_group_name, {"type": "chat.message", "text": content["text"]})
//       async def chat_message(self, event):
//           await self.send_json({"text": event["text"]})
//
// consumers.ts holds the consumer, views.ts the HTML page and an HTTP view that
// posts to a room through the channel layer, urls.ts both URL confs.
// The channel layer is in memory (one process); set REDIS_URL to share it
// between processes, as CHANNEL_LAYERS with channels_redis does.
//
// Run: npm start   (or: npx tsx examples/chat/server.ts; REDIS_URL=redis://127.0.0.1:6379 to use Redis)
//      open http://127.0.0.1:3000/ in two windows, join the same room, chat
//      curl -d '{"text":"Pizza is here"}' -H 'content-type: application/json' http://127.0.0.1:3000/rooms/lobby/announce/
//      curl -d '{"text":"Closing in 5 minutes"}' -H 'content-type: application/json' http://127.0.0.1:3000/announce/
import Fastify from 'fastify'
import asyncViews from 'fastify-async-views'
import { urlpatterns, websocketUrlpatterns } from './urls.ts'

const app = Fastify({ logger: true })
await app.register(asyncViews, {
  urlpatterns,
  websocket: { urlpatterns: websocketUrlpatterns },
  channelLayer: process.env.REDIS_URL ? { backend: 'redis', url: process.env.REDIS_URL, prefix: process.env.LAYER_PREFIX ?? 'asgi' } : { backend: 'memory' }
})
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
