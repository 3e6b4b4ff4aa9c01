// Fixed-rate HTTP load for the sync suite's loop-latency scenario (run pinned
// to core 1 by harness.js startClient), optionally keeping slow requests in
// flight on another URL at the same time.
//
//   node bench/clients/rate-client.js <url> <rate/s> <warmup-s> <seconds> [<busy-url> <in-flight>]
//
// GET <url> is sent at a fixed rate whatever the server does (open loop), and
// a request's latency counts from the moment it was due, so a stalled event
// loop shows in full (no coordinated omission). <in-flight> loops each GET
// <busy-url> again as soon as the previous one answered.
//
// JSON lines on stdout: {"event":"measuring"}, {"event":"window"}, then
// {"event":"result", requests, seconds, rps, p50Ms, p99Ms, maxMs, non2xx, errors, busyDone}.
import { Agent, request } from 'node:http'
import { createHistogram } from 'node:perf_hooks'
import { measuredWindow, say, sleep } from './window.js'

const [url, rateArg, warmupArg, secondsArg, busyUrl, inFlightArg = '0'] = process.argv.slice(2)
const rate = Number(rateArg)
const agent = new Agent({ keepAlive: true, maxSockets: Infinity })

/** GET a URL; resolves to its status (0 on a socket error). */
function get (target) {
  return new Promise((resolve) => {
    const req = request(target, { agent }, (res) => {
      res.resume()
      res.once('end', () => resolve(res.statusCode))
      res.once('error', () => resolve(0))
    })
    req.once('error', () => resolve(0))
    req.end()
  })
}

const state = { running: true }
let measuring = false
let requests = 0
let non2xx = 0
let errors = 0
let busyDone = 0
const histogram = createHistogram()
const outstanding = new Set()

// The slow requests kept in flight.
const busyLoops = []
const inFlight = busyUrl ? Number(inFlightArg) : 0
for (let i = 0; i < inFlight; i++) {
  busyLoops.push((async () => {
    while (state.running) {
      const status = await get(busyUrl)
      if (status !== 200) {
        errors++
        await sleep(10)
      } else if (measuring) busyDone++
    }
  })())
}

// The fixed-rate stream: every tick sends the requests due by now.
const interval = 1000 / rate
const started = performance.now()
let sent = 0
const tick = () => {
  const now = performance.now()
  while (started + sent * interval <= now) {
    const due = started + sent++ * interval
    const counted = measuring
    const p = get(url).then((status) => {
      outstanding.delete(p)
      if (!counted) return
      requests++
      if (status === 0) errors++
      else if (status < 200 || status >= 300) non2xx++
      histogram.record(Math.max(1, Math.round((performance.now() - due) * 1000)))
    })
    outstanding.add(p)
  }
}
const timer = setInterval(tick, Math.max(1, Math.floor(interval / 2)))

const seconds = await measuredWindow(warmupArg, secondsArg, (on) => { measuring = on })
clearInterval(timer)
state.running = false
// The requests sent in the window finish (a blocked loop answers late).
await Promise.race([Promise.all(outstanding), sleep(10000)])
say({
  event: 'result',
  requests,
  seconds,
  rps: requests / seconds,
  p50Ms: histogram.count ? histogram.percentile(50) / 1000 : NaN,
  p99Ms: histogram.count ? histogram.percentile(99) / 1000 : NaN,
  maxMs: histogram.count ? histogram.max / 1000 : NaN,
  non2xx,
  errors,
  busyDone,
  unanswered: outstanding.size
})
await Promise.race([Promise.all(busyLoops), sleep(2000)])
process.exit(0)
