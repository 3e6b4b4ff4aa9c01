// Many idle WebSocket clients in one process, for bench/ws-50k.js. Past ~28k
// sockets one source address runs out of ports (to one server port), so each
// process connects from its own 127.0.0.x (`localAddress`).
//
//   node bench/clients/ws-mass.js <ws-url> <count> <local-address>
//
// Says {"event":"connected","count":N} once every socket is open. Commands on
// stdin: {"cmd":"send"} sends one frame {"seq":1,"t":<ms>} on the first socket;
// every socket counts the frames it gets and, when all have one, the process
// says {"event":"delivered","at":<ms>,"received":N}. {"cmd":"count"} answers
// {"event":"count","received":N}; {"cmd":"close"} closes everything and says
// {"event":"closed","errors":N}.
import { createInterface } from 'node:readline'
import WebSocket from 'ws'
import { say } from './window.js'

const [url, countArg, localAddress] = process.argv.slice(2)
const count = Number(countArg)
const sockets = new Array(count)
let received = 0
let complete = 0
let closing = false
let errors = 0

function onMessage () {
  received++
  if (++complete === count) say({ event: 'delivered', at: Date.now(), received })
}

// A handshake refused under load (a full accept queue resets it) is tried
// again after a pause, up to 5 times; the retries are reported.
let retries = 0
let opened = 0
function open () {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress })
    ws.once('open', () => resolve(ws))
    // A failed handshake may say so more than once.
    ws.on('error', reject)
  })
}

let next = 0
async function opener () {
  while (next < count) {
    const i = next++
    let ws
    for (let attempt = 0; ws === undefined; attempt++) {
      try {
        ws = await open()
      } catch (error) {
        if (attempt === 5) throw new Error(`socket ${i} (${opened} open): ${error.message}`)
        retries++
        await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)))
      }
    }
    opened++
    ws.removeAllListeners('error')
    ws.on('message', onMessage)
    ws.on('error', () => {})
    ws.on('close', () => { if (!closing) errors++ })
    sockets[i] = ws
  }
}
const started = Date.now()
await Promise.all(Array.from({ length: Math.min(64, count) }, opener))
say({ event: 'connected', count, ms: Date.now() - started, retries })

for await (const line of createInterface({ input: process.stdin })) {
  const { cmd } = JSON.parse(line)
  if (cmd === 'send') sockets[0].send(JSON.stringify({ seq: 1, t: Date.now() }))
  else if (cmd === 'count') say({ event: 'count', received })
  else if (cmd === 'close') break
}
closing = true
for (const ws of sockets) ws?.terminate()
say({ event: 'closed', errors })
setTimeout(() => process.exit(0), 100)
