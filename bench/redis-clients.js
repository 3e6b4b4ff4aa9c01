// The load generator of the redis suite (bench/redis.js starts it pinned to
// its own core and drives it over IPC). It holds the room's clients and one
// sender for one side, and counts every message at every client.
//
// Requests (process.send), each answered with { seq, ok, ... } or { seq, ok: false, error }:
//   { type: 'connect', side: 'ours' | 'socketio', ports: [p1, p2?], clients, small }
//       `clients` room members split evenly over the ports, `small` members of
//       group `small` per port, and a sender on ports[0].
//   { type: 'round', broadcasts, window, timeoutMs, payload }
//       Broadcasts to `room` with at most `window` not yet fully delivered (a
//       broadcast older than timeoutMs stops counting against the window; its
//       missing deliveries are lost). Answers the counts and latencies.
//   { type: 'once', group }   one broadcast to `room` or `small`, answered when every member has it
//   { type: 'close' }         closes every client, then exits
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { io } from 'socket.io-client'

let nextId = 1
const members = { room: [], small: [] }
let sender
let run // the broadcast being counted (round or once)
const problems = { closed: 0, errors: 0 }
let closing = false

// ---------------------------------------------------------------- clients

function onMessage (client, m) {
  const r = run
  if (r === undefined || client.group !== r.group) return
  const i = m.id - r.base
  if (i < 0 || i >= r.n) { r.stray++; return }
  // Both systems keep per-client order: an id not above the last one is a duplicate.
  if (m.id <= client.lastId) { r.dups++; return }
  client.lastId = m.id
  const now = performance.now()
  r.latencies[r.nLat++] = now - m.t
  r.lastDelivery = now
  r.received++
  if (++r.counts[i] === r.members && r.state[i] === 0) {
    r.state[i] = 1
    r.inflight--
    r.pump()
  }
}

function wsClient (port, route, group) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/${route}`, { perMessageDeflate: false })
    const client = { group, lastId: 0, close: () => socket.close() }
    socket.on('message', (data) => { onMessage(client, JSON.parse(data)) })
    socket.once('open', () => resolve(client))
    socket.once('error', (error) => { problems.errors++; reject(error) })
    socket.once('close', () => { if (!closing) problems.closed++ })
  })
}

function sioClient (port, query, group) {
  return new Promise((resolve, reject) => {
    const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false, query })
    const client = { group, lastId: 0, close: () => socket.close(), socket }
    socket.on('message', (m) => { onMessage(client, m) })
    socket.once('connect', () => resolve(client))
    socket.once('connect_error', (error) => { problems.errors++; reject(error) })
    socket.on('disconnect', () => { if (!closing) problems.closed++ })
  })
}

let connectRetries = 0

// A handshake that fails is tried again (twice at most): a reset while a
// server is still warming up is not a benchmark result.
async function withRetry (make) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await make()
    } catch (error) {
      if (attempt >= 2) throw error
      connectRetries++
      await new Promise((resolve) => setTimeout(resolve, 100 * (attempt + 1)))
    }
  }
}

// A few at a time: 500 handshakes at once would only queue on the server.
async function openAll (makers, batch = 50) {
  const out = []
  for (let i = 0; i < makers.length; i += batch) out.push(...await Promise.all(makers.slice(i, i + batch).map((make) => withRetry(make))))
  return out
}

async function connect ({ side, ports, clients, small = 0 }) {
  const makers = []
  for (let i = 0; i < clients; i++) {
    const port = ports[i % ports.length]
    makers.push(side === 'socketio' ? () => sioClient(port, { room: 'room' }, 'room') : () => wsClient(port, 'ws/room/', 'room'))
  }
  for (const port of ports) {
    for (let i = 0; i < small; i++) {
      makers.push(side === 'socketio' ? () => sioClient(port, { room: 'small' }, 'small') : () => wsClient(port, 'ws/small/', 'small'))
    }
  }
  for (const client of await openAll(makers)) members[client.group].push(client)
  if (side === 'socketio') {
    const client = await sioClient(ports[0], { role: 'sender' }, 'none')
    sender = (group, id, t, body) => client.socket.emit('send', { room: group, id, t, body })
    sender.close = client.close
  } else {
    const client = await new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${ports[0]}/ws/send/`, { perMessageDeflate: false })
      socket.once('open', () => resolve(socket))
      socket.once('error', reject)
    })
    sender = (group, id, t, body) => client.send(JSON.stringify({ group, id, t, body }))
    sender.close = () => client.close()
  }
  // Failed handshakes that were retried are not counted as problems of a round.
  problems.errors = 0
  return { room: members.room.length, small: members.small.length, connectRetries }
}

// ---------------------------------------------------------------- broadcasting

function broadcast ({ group = 'room', broadcasts, window, timeoutMs = 2000, payload = 100 }) {
  const count = members[group].length
  if (count === 0) throw new Error(`no members in ${group}`)
  const body = 'x'.repeat(payload)
  const r = {
    group,
    members: count,
    base: nextId,
    n: broadcasts,
    counts: new Int32Array(broadcasts),
    state: new Uint8Array(broadcasts), // 0 in flight or unsent, 1 done or timed out
    sentAt: new Float64Array(broadcasts),
    latencies: new Float64Array(broadcasts * count),
    nLat: 0,
    received: 0,
    dups: 0,
    stray: 0,
    sent: 0,
    inflight: 0,
    expired: 0,
    lastDelivery: 0,
    pump: () => {}
  }
  nextId += broadcasts
  const closedBefore = problems.closed
  const cpuBefore = process.cpuUsage()
  return new Promise((resolve) => {
    let oldest = 0 // every broadcast below this one is done or expired
    let finishing = false
    // Every broadcast is done or timed out. If some timed out, their
    // stragglers still count for a grace period (a stall is not a loss).
    const finish = () => {
      if (finishing) return
      finishing = true
      clearInterval(sweeper)
      if (r.expired === 0) return report()
      const graceStart = performance.now()
      const grace = setInterval(() => {
        const complete = r.received === broadcasts * count
        if (complete || performance.now() - graceStart > 3000) {
          clearInterval(grace)
          report()
        }
      }, 20)
    }
    const report = () => {
      run = undefined
      const cpu = process.cpuUsage(cpuBefore)
      const lat = r.latencies.subarray(0, r.nLat).sort()
      const pct = (p) => lat.length === 0 ? NaN : lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]
      const seconds = (r.lastDelivery - r.sentAt[0]) / 1000
      resolve({
        broadcasts,
        members: count,
        expected: broadcasts * count,
        received: r.received,
        lost: broadcasts * count - r.received,
        dups: r.dups,
        stray: r.stray,
        expired: r.expired,
        closed: problems.closed - closedBefore,
        seconds,
        deliveriesPerSecond: seconds > 0 ? r.received / seconds : NaN,
        p50Ms: pct(0.50),
        p99Ms: pct(0.99),
        maxMs: lat.length ? lat[lat.length - 1] : NaN,
        clientCpu: (cpu.user + cpu.system) / 1e6
      })
    }
    r.pump = () => {
      if (finishing) return
      while (r.sent < r.n && r.inflight < window) {
        const i = r.sent++
        r.inflight++
        const t = performance.now()
        r.sentAt[i] = t
        sender(group, r.base + i, t, body)
      }
      while (oldest < r.sent && r.state[oldest] === 1) oldest++
      if (oldest === r.n) finish()
    }
    // A broadcast not fully delivered within timeoutMs frees its slot in the window.
    const sweeper = setInterval(() => {
      const now = performance.now()
      for (let i = oldest; i < r.sent; i++) {
        if (r.state[i] === 0 && now - r.sentAt[i] > timeoutMs) {
          r.state[i] = 1
          r.inflight--
          r.expired++
        }
      }
      r.pump()
    }, 50)
    run = r
    r.pump()
  })
}

// ---------------------------------------------------------------- IPC

const handlers = {
  connect,
  round: (m) => broadcast(m),
  once: async ({ group }) => broadcast({ group, broadcasts: 1, window: 1, timeoutMs: 3000, payload: 100 }),
  close: async () => {
    closing = true
    for (const client of [...members.room, ...members.small]) client.close()
    sender?.close()
    setTimeout(() => process.exit(0), 200)
    return {}
  }
}

process.on('message', async (message) => {
  const { seq, type } = message
  try {
    const result = await handlers[type](message)
    process.send({ seq, ok: true, ...result })
  } catch (error) {
    process.send({ seq, ok: false, error: error?.stack ?? String(error) })
  }
})
// The runner went away: so do we.
process.on('disconnect', () => process.exit(0))
