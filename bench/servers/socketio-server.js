// The socket.io side of the redis suite: socket.io with @socket.io/redis-adapter
// on ioredis clients.
//
//   node bench/servers/socketio-server.js <redis-url> <key> [port]
//
// A client connecting with `?role=sender` is the sender: each `send` event
// { room?, id, t, body } becomes io.to(room ?? 'room').emit('message', { id, t, body }).
// Every other client joins the room named by `?room=` (default `room`).
//
// Port 0 (the default) takes a free port, announced as `{"ready":true,"port":N}`.
import { createServer } from 'node:http'
import { Server } from 'socket.io'
import { createAdapter } from '@socket.io/redis-adapter'
import { Redis } from 'ioredis'
import { profileIfAsked } from './profile.js'

const [url, key, portArg = '0'] = process.argv.slice(2)
if (!url || !key) {
  console.error('usage: socketio-server.js <redis-url> <key> [port]')
  process.exit(2)
}

const pubClient = new Redis(url)
const subClient = pubClient.duplicate()
await Promise.all([pubClient, subClient].map((client) => new Promise((resolve, reject) => {
  if (client.status === 'ready') resolve()
  client.once('ready', resolve)
  client.once('error', reject)
})))

const httpServer = createServer()
const io = new Server(httpServer, { adapter: createAdapter(pubClient, subClient, { key }), serveClient: false })

io.on('connection', (socket) => {
  const { role, room = 'room' } = socket.handshake.query
  if (role === 'sender') {
    socket.on('send', (m) => { io.to(m.room ?? 'room').emit('message', { id: m.id, t: m.t, body: m.body }) })
  } else {
    socket.join(room)
  }
})

const stopProfile = await profileIfAsked('socketio')

async function close () {
  await stopProfile().catch(() => {})
  io.close(() => {
    pubClient.disconnect()
    subClient.disconnect()
    process.exit(0)
  })
  setTimeout(() => process.exit(1), 3000).unref()
}
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, close)

httpServer.listen(Number(portArg), '127.0.0.1', () => {
  console.log(JSON.stringify({ ready: true, port: httpServer.address().port }))
})
