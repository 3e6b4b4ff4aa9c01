// WebSocket load generator for bench/ws.js (run pinned to core 1 by harness.js
// startClient). It speaks JSON lines: progress and results on stdout, commands
// on stdin.
//
//   node bench/clients/ws-client.js echo   <ws-url> <connections> <warmup-s> <seconds>
//   node bench/clients/ws-client.js fanout <ws-url> <connections> <window> <warmup-s> <seconds>
//   node bench/clients/ws-client.js idle   <ws-url> <connections>
//
// echo:   every connection sends a text frame, waits for it to come back, and
//         sends the next at once. Latency = one round trip.
// fanout: every connection is a group member; connection 0 also sends
//         {"seq":n,"t":ms}, which the server broadcasts to all. At most <window>
//         broadcasts are in flight: the next goes when one has reached every
//         client. Latency = send to arrival of each delivery. After the window
//         the client stops sending and waits for what is in flight: any
//         delivery missing then is reported as lost.
// idle:   opens the connections, says {"event":"connected"}, then waits for
//         {"cmd":"close"} on stdin (or a signal).
//
// Lines: {"event":"connected","count":N}, {"event":"measuring"} when the measured
// window starts, {"event":"window"} when it ends, then {"event":"result",...}.
import { createHistogram } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import WebSocket from 'ws'
import { measuredWindow, say, sleep } from './window.js'

const [mode, url, ...rest] = process.argv.slice(2)

/** Opens `count` sockets, `parallel` handshakes at a time; `setup(ws, i)` runs before each opens. */
async function openAll (count, setup = () => {}, parallel = 64) {
  const sockets = new Array(count)
  let nextIndex = 0
  const worker = async () => {
    while (nextIndex < count) {
      const i = nextIndex++
      const ws = new WebSocket(url, { perMessageDeflate: false })
      setup(ws, i)
      await new Promise((resolve, reject) => {
        ws.once('open', resolve)
        ws.once('error', reject)
        ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake ${i} answered ${res.statusCode}`)))
      })
      ws.on('error', (error) => { console.error(`socket ${i}: ${error.message}`) })
      ws.on('close', (code) => { if (!closing) { console.error(`socket ${i} closed by the server (${code})`); unexpectedCloses++ } })
      sockets[i] = ws
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker))
  return sockets
}

let closing = false
let unexpectedCloses = 0

const summary = (histogram) => ({
  p50Ms: histogram.count ? histogram.percentile(50) / 1000 : NaN,
  p99Ms: histogram.count ? histogram.percentile(99) / 1000 : NaN,
  maxMs: histogram.count ? histogram.max / 1000 : NaN
})

async function echo ([connections, warmup, seconds]) {
  const n = Number(connections)
  let measuring = false
  let running = true
  let roundTrips = 0
  let mismatches = 0
  const histogram = createHistogram()
  const sockets = await openAll(n)
  say({ event: 'connected', count: sockets.length })
  for (const [i, ws] of sockets.entries()) {
    let sent = 0
    let expected = ''
    let at = 0
    const next = () => {
      expected = `echo ${i} ${++sent} ........`
      at = performance.now()
      ws.send(expected)
    }
    ws.on('message', (data) => {
      const now = performance.now()
      if (data.toString() !== expected) mismatches++
      if (measuring) {
        roundTrips++
        histogram.record(Math.max(1, Math.round((now - at) * 1000)))
      }
      if (running) next()
    })
    next()
  }
  const elapsed = await measuredWindow(warmup, seconds, (on) => { measuring = on })
  running = false
  closing = true
  say({ event: 'result', requests: roundTrips, seconds: elapsed, rps: roundTrips / elapsed, ...summary(histogram), errors: mismatches + unexpectedCloses })
  for (const ws of sockets) ws.terminate()
}

async function fanout ([connections, window, warmup, seconds]) {
  const n = Number(connections)
  const inFlightMax = Number(window)
  let measuring = false
  let sending = false
  let deliveries = 0
  let broadcasts = 0
  let outOfOrder = 0
  const histogram = createHistogram()
  // seq -> how many clients got it (entries removed once complete).
  const pending = new Map()
  let seq = 0
  let onComplete = () => {}
  const lastSeq = new Int32Array(n)

  const sockets = await openAll(n, (ws, i) => {
    ws.on('message', (data) => {
      const now = performance.now()
      const event = JSON.parse(data.toString())
      if (event.type !== 'bench.message') return
      if (event.seq <= lastSeq[i]) outOfOrder++
      lastSeq[i] = event.seq
      if (measuring) {
        deliveries++
        histogram.record(Math.max(1, Math.round((now - event.t) * 1000)))
      }
      const got = (pending.get(event.seq) ?? 0) + 1
      if (got < n) {
        pending.set(event.seq, got)
        return
      }
      pending.delete(event.seq)
      if (measuring) broadcasts++
      onComplete()
    })
  })
  say({ event: 'connected', count: sockets.length })
  const sender = sockets[0]
  const send = () => {
    const s = ++seq
    pending.set(s, 0)
    sender.send(JSON.stringify({ seq: s, t: performance.now() }))
  }
  onComplete = () => {
    if (!sending) return
    while (pending.size < inFlightMax) send()
  }
  sending = true
  onComplete()
  const elapsed = await measuredWindow(warmup, seconds, (on) => { measuring = on })
  // Let what is in flight arrive; whatever does not within 5 s is lost.
  sending = false
  for (let waited = 0; pending.size > 0 && waited < 5000; waited += 10) await sleep(10)
  let lost = 0
  for (const got of pending.values()) lost += n - got
  closing = true
  say({
    event: 'result',
    requests: deliveries,
    seconds: elapsed,
    rps: deliveries / elapsed,
    broadcasts,
    ...summary(histogram),
    lost,
    incomplete: pending.size,
    errors: outOfOrder + unexpectedCloses
  })
  for (const ws of sockets) ws.terminate()
}

async function idle ([connections]) {
  const sockets = await openAll(Number(connections), () => {}, 100)
  say({ event: 'connected', count: sockets.length })
  for await (const line of createInterface({ input: process.stdin })) {
    if (JSON.parse(line).cmd === 'close') break
  }
  closing = true
  for (const ws of sockets) ws.terminate()
  say({ event: 'closed', errors: unexpectedCloses })
}

const modes = { echo, fanout, idle }
if (!(mode in modes) || !url) {
  console.error('usage: ws-client.js echo|fanout|idle <ws-url> ...')
  process.exit(2)
}
modes[mode](rest).then(() => { setTimeout(() => process.exit(0), 100) }, (error) => {
  console.error(error.stack ?? error)
  process.exit(1)
})
