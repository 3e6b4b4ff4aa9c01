// The in-process part of the sync suite: the bridge measured from the
// process that calls it, beside a raw Piscina doing the same trivial task.
//
//   node bench/servers/sync-bench.js roundtrip
//   node bench/servers/sync-bench.js pool <in-flight>
//
// roundtrip: sequential awaited calls of add(1, 2), one at a time. Sides:
//   sensitive  syncToAsync(add) (thread-sensitive, the default)
//   pool       syncToAsync(add, { threadSensitive: false })
//   piscina    a raw Piscina with one thread running addTask({ a, b })
// pool: <in-flight> calls kept in flight. Sides:
//   pool       syncToAsync(add, { threadSensitive: false }) (pool of BENCH_SYNC_THREADS = 2 threads)
//   piscina    a raw Piscina of as many threads
//
// Driven by JSON lines on stdin (bench/sync.js alternates the sides and
// watches the CPU around each batch):
//   {"cmd":"warmup","seconds":s}        every side for s/n seconds -> {"event":"warm"}
//   {"cmd":"batch","side":x,"seconds":s} -> {"event":"batch", side, calls, seconds,
//                                           usPerCall, callsPerSecond, p50Us, p99Us}
//   {"cmd":"exit"}                       closes the pools -> {"event":"done"}
// It says {"event":"ready"} first.
import { createHistogram } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { Piscina } from 'piscina'
import Fastify from 'fastify'
import asyncViews, { syncToAsync } from 'fastify-async-views'

const [mode, inFlightArg = '64'] = process.argv.slice(2)
if (mode !== 'roundtrip' && mode !== 'pool') {
  console.error(`unknown mode ${JSON.stringify(mode)} (roundtrip | pool)`)
  process.exit(2)
}
const inFlight = Number(inFlightArg)
const say = (message) => process.stdout.write(JSON.stringify(message) + '\n')
const work = new URL('./sync-work.js', import.meta.url)
// The pool's size, set the way an app sets it (the plugin's `sync` option,
// process-wide); availableParallelism() would be 1 when pinned to one core.
const threads = Number(process.env.BENCH_SYNC_THREADS || 2)
const app = Fastify({ logger: false })
await app.register(asyncViews, { sync: { maxThreads: threads } })
await app.ready()

const sensitive = syncToAsync(work, 'add')
const pooled = syncToAsync(work, 'add', { threadSensitive: false })
const piscina = new Piscina({
  filename: work.href,
  name: 'addTask',
  minThreads: mode === 'roundtrip' ? 1 : threads,
  maxThreads: mode === 'roundtrip' ? 1 : threads,
  idleTimeout: Infinity,
  concurrentTasksPerWorker: 1
})

const calls = {
  sensitive: () => sensitive(1, 2),
  pool: () => pooled(1, 2),
  piscina: () => piscina.run({ a: 1, b: 2 })
}
const sides = mode === 'roundtrip' ? ['sensitive', 'pool', 'piscina'] : ['pool', 'piscina']

/** `loops` loops of awaited calls for `ms`; per-call latency in a histogram (ns). */
async function callFor (call, ms, loops) {
  const histogram = createHistogram()
  let n = 0
  const start = performance.now()
  const end = start + ms
  const loop = async () => {
    let t = performance.now()
    while (t < end) {
      const result = await call()
      if (result !== 3) throw new Error(`add(1, 2) gave ${result}`)
      const now = performance.now()
      histogram.record(Math.max(1, Math.round((now - t) * 1e6)))
      t = now
      n++
    }
  }
  await Promise.all(Array.from({ length: loops }, loop))
  return { calls: n, elapsed: (performance.now() - start) / 1000, histogram }
}

const loops = mode === 'roundtrip' ? 1 : inFlight
say({ event: 'ready' })
for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line)
  if (command.cmd === 'warmup') {
    // Threads started, modules loaded, code compiled, on every side.
    for (const side of sides) await callFor(calls[side], (command.seconds * 1000) / sides.length, loops)
    say({ event: 'warm' })
  } else if (command.cmd === 'batch') {
    const { calls: n, elapsed, histogram } = await callFor(calls[command.side], command.seconds * 1000, loops)
    say({
      event: 'batch',
      side: command.side,
      calls: n,
      seconds: elapsed,
      usPerCall: (elapsed * 1e6) / n,
      callsPerSecond: n / elapsed,
      p50Us: histogram.percentile(50) / 1000,
      p99Us: histogram.percentile(99) / 1000
    })
  } else if (command.cmd === 'exit') {
    break
  }
}
await piscina.destroy()
await app.close() // closes the bridge's workers too
say({ event: 'done' })
