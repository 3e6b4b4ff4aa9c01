// The sync/async bridge suite.
//
//   roundtrip     median microseconds of one awaited syncToAsync(add)(1, 2),
//                 calls made one after another (bench/servers/sync-bench.js),
//                 thread-sensitive; the pool and a raw Piscina beside it
//   pool          calls/s of syncToAsync(add, { threadSensitive: false }) with
//                 BENCH_SYNC_INFLIGHT calls in flight, beside a raw Piscina
//   loop-latency  p99 of an async /json view at BENCH_SYNC_RATE requests/s
//                 (fixed rate, bench/clients/rate-client.js) while two 200 ms
//                 CPU-bound views are always in flight: through syncView
//                 (pool workers) vs the same work inline in an async view
//   db-*          req/s (wrk) of GET /db, one 10-row better-sqlite3 query,
//                 through syncToAsync (thread-sensitive, pooled) or syncView,
//                 as a ratio to the same query inline in an async view
//   contexts      wall time of 40 concurrent requests each making one
//                 thread-sensitive call that blocks its worker 50 ms,
//                 maxThreads 8: per-request contexts spread them over 8 workers
//
// The measuring process (sync-bench.js, sync-server.js) is pinned to core 0
// with its worker threads, like every server here; BENCH_SYNC_CORES=0,1 lets
// it (and its workers) use both cores. Load generators run on core 1.
// Env: BENCH_SYNC_THREADS (2 pool threads), BENCH_SYNC_INFLIGHT (64),
// BENCH_SYNC_RATE (500 /json requests per s), BENCH_SYNC_CORES ('0').
import { config, cpuWindow, envInteger, measuredClient, median, startClient, startServer } from './harness.js'

const IN_FLIGHT = envInteger('BENCH_SYNC_INFLIGHT', 64)
// Pool threads of the bridge (and of the raw Piscina beside it); read by the child processes too.
const THREADS = envInteger('BENCH_SYNC_THREADS', 2)
const RATE = envInteger('BENCH_SYNC_RATE', 500)
const CORES = process.env.BENCH_SYNC_CORES || '0'
// cpuWindow watches one core for other processes; with several, the whole machine ('cpu' line).
const WATCHED = /^\d+$/.test(CORES) ? Number(CORES) : ''
const WATCHED_CORES = WATCHED === '' ? CORES.split(',').length : 1

export const needsWrk = false
export const setup = `bridge and servers on core${WATCHED === '' ? 's' : ''} ${CORES} with their worker threads (pool: ${THREADS} threads)` +
  `${config.pin ? ' (taskset)' : ' (no pinning)'}, load generators on core 1; pool: ${IN_FLIGHT} calls in flight; ` +
  `loop-latency: /json at ${RATE} req/s (open loop) + 2 /cpu requests always in flight`

const LABELS = {
  sensitive: 'syncToAsync (thread-sensitive)',
  pool: 'syncToAsync (threadSensitive: false)',
  piscina: 'raw Piscina'
}

/**
 * Runs sync-bench.js <mode> and alternates batches of the sides, each measured
 * config.seconds; a batch during which others used more than
 * config.maxForeign of the watched core(s) runs again (once at most).
 */
async function bridgeBatches (scenario, { log = () => {} } = {}) {
  const client = startClient(['servers/sync-bench.js', scenario.mode, String(IN_FLIGHT)], { cores: CORES })
  try {
    await client.next((m) => m.event === 'ready', 30000)
    client.send({ cmd: 'warmup', seconds: config.warmup * scenario.sides.length })
    await client.next((m) => m.event === 'warm', (config.warmup * scenario.sides.length + 60) * 1000)
    const rounds = Object.fromEntries(scenario.sides.map((side) => [side, []]))
    for (let round = 1; round <= config.rounds; round++) {
      for (const side of scenario.sides) {
        let sample
        // A batch is cheap to redo, but the suite must stay within minutes: one retry at most.
        for (let attempt = 0; ; attempt++) {
          const end = cpuWindow(client.pid, WATCHED)
          client.send({ cmd: 'batch', side, seconds: config.seconds })
          const batch = await client.next((m) => m.event === 'batch', (config.seconds + 60) * 1000)
          const { cpu, foreign } = end()
          sample = { ...batch, cpu, foreign: foreign / WATCHED_CORES }
          if (sample.foreign <= config.maxForeign || attempt >= Math.min(config.retries, 1)) break
          log(`  ${scenario.name} round ${round}/${config.rounds} ${side.padEnd(9)} ${Math.round(sample.foreign * 100)}% of the core(s) busy with others: measuring again`)
        }
        rounds[side].push(sample)
        log(`  ${scenario.name} round ${round}/${config.rounds} ${side.padEnd(9)} ${sample.p50Us.toFixed(1)} us median  ${sample.usPerCall.toFixed(1)} us mean  ` +
          `p99 ${sample.p99Us.toFixed(1)} us  ${Math.round(sample.callsPerSecond)} calls/s  cpu ${sample.cpu.toFixed(2)} s` +
          (sample.foreign > 0.05 ? `  ${Math.round(sample.foreign * 100)}% busy with others` : ''))
      }
    }
    client.send({ cmd: 'exit' })
    await client.next((m) => m.event === 'done', 30000)
    const sides = Object.fromEntries(scenario.sides.map((side) => {
      const samples = rounds[side]
      return [side, {
        p50Us: median(samples.map((s) => s.p50Us)),
        meanUs: median(samples.map((s) => s.usPerCall)),
        p99Us: median(samples.map((s) => s.p99Us)),
        callsPerSecond: median(samples.map((s) => s.callsPerSecond)),
        callsPerCpu: median(samples.map((s) => s.calls / s.cpu)),
        noisy: samples.filter((s) => s.foreign > config.maxForeign).length
      }]
    }))
    return { name: scenario.name, target: scenario.target, kind: scenario.mode, sides, rounds }
  } catch (error) {
    return { name: scenario.name, target: scenario.target, kind: scenario.mode, error }
  } finally {
    await client.stop()
  }
}

async function getJson (url) {
  const response = await fetch(url)
  if (response.status !== 200) throw new Error(`GET ${url} -> ${response.status}`)
  return response.json()
}

/** harness.js load for loop-latency: /json at a fixed rate, /cpu kept in flight, and the server's own event-loop delay. */
async function rateLoad ({ url, pid, seconds }) {
  const base = new URL(url)
  await getJson(new URL('/loop-delay?reset=1', base))
  const result = await measuredClient(['clients/rate-client.js', url, String(RATE), '0', String(seconds), new URL('/cpu', base).href, '2'], { pid, seconds, core: WATCHED })
  result.window.foreign /= WATCHED_CORES
  const loop = await getJson(new URL('/loop-delay', base))
  if (result.errors > 0) throw new Error(`loop-latency: ${result.errors} requests failed`)
  if (result.unanswered > 0) throw new Error(`loop-latency: ${result.unanswered} requests unanswered 10 s after the window`)
  if (result.busyDone === 0) throw new Error('loop-latency: no /cpu request finished in the window')
  return {
    ...result,
    socketErrors: 0,
    loopP99Ms: loop.p99Ms,
    note: `p50 ${result.p50Ms.toFixed(2)} ms  loop delay p99 ${loop.p99Ms.toFixed(1)} ms  ${result.busyDone} /cpu done`
  }
}

const syncServer = (variant, path = '/json') => ({ server: ['servers/sync-server.js', variant], serverOptions: { cores: CORES }, path })

const dbScenario = (variant, what) => ({
  name: variant,
  about: `GET /db, one 10-row better-sqlite3 query: ${what} vs the same query inline in an async view; req/s (wrk)`,
  target: 0.7,
  bare: syncServer('db-inline', '/db'),
  plugin: syncServer(variant, '/db')
})

const CONCURRENT = 40
const BLOCK_MS = 50
const CONTEXT_THREADS = 8

/** 40 concurrent requests, each one thread-sensitive call blocking 50 ms: wall ms per burst (median over the rounds). */
async function contextsRun () {
  const server = await startServer(['servers/sync-server.js', 'block8'], { cores: CORES })
  try {
    const url = `http://127.0.0.1:${server.port}/block`
    const burst = async () => {
      const started = performance.now()
      const responses = await Promise.all(Array.from({ length: CONCURRENT }, async () => await fetch(url)))
      for (const response of responses) {
        if (response.status !== 200) throw new Error(`GET /block -> ${response.status}`)
        await response.arrayBuffer()
      }
      return performance.now() - started
    }
    // The first bursts start the workers.
    for (let i = 0; i < 3; i++) await burst()
    const walls = []
    for (let round = 0; round < Math.max(5, config.rounds); round++) walls.push(await burst())
    return { name: 'contexts', kind: 'contexts', target: 1.3, wallMs: median(walls), walls }
  } catch (error) {
    return { name: 'contexts', kind: 'contexts', target: 1.3, error }
  } finally {
    await server.stop()
  }
}

export const scenarios = [
  {
    name: 'roundtrip',
    about: 'sequential awaited calls of add(1, 2) through syncToAsync (thread-sensitive: one shared worker), through the pool (threadSensitive: false), ' +
      'and through a raw Piscina of one thread running the same function; median of the per-call medians over the rounds',
    target: 60,
    mode: 'roundtrip',
    sides: ['sensitive', 'pool', 'piscina'],
    run: bridgeBatches
  },
  {
    name: 'pool',
    about: `${IN_FLIGHT} calls of add(1, 2) kept in flight through syncToAsync(add, { threadSensitive: false }) (pool of ${THREADS} threads) ` +
      'vs a raw Piscina of as many threads; calls/s',
    target: null,
    mode: 'pool',
    sides: ['pool', 'piscina'],
    run: bridgeBatches
  },
  {
    name: 'loop-latency',
    about: `GET /json (an async view) at ${RATE} req/s, latency from the moment each request was due, while two 200 ms CPU-bound GET /cpu requests are always in flight: ` +
      "'syncView' runs them on pool workers through syncView(), 'inline' runs the same work in an async view on the event loop. " +
      'Loop delay = the server\'s own monitorEventLoopDelay p99',
    target: 25,
    unit: 'req',
    retries: Math.min(config.retries, 1),
    check: async () => {},
    load: rateLoad,
    bare: syncServer('inline'),
    plugin: syncServer('syncview')
  },
  dbScenario('db-sensitive', 'await syncToAsync(posts)() (thread-sensitive)'),
  dbScenario('db-pooled', 'await syncToAsync(posts, { threadSensitive: false })()'),
  dbScenario('db-syncview', 'syncView(postsView)'),
  {
    name: 'contexts',
    about: `${CONCURRENT} concurrent requests, each one thread-sensitive call blocking its worker ${BLOCK_MS} ms (Atomics.wait), maxThreads ${CONTEXT_THREADS}; ` +
      `wall time of the burst vs the ideal ${CONCURRENT} x ${BLOCK_MS} / ${CONTEXT_THREADS} ms`,
    target: 1.3,
    run: contextsRun
  }
]

export function report (results) {
  const f1 = (n) => n.toFixed(1)
  const f2 = (n) => n.toFixed(2)
  const lines = [
    '| scenario | measured | fastify-async-views | reference | reference is | target |',
    '| --- | --- | ---: | ---: | --- | --- |'
  ]
  for (const r of results) {
    if (r.error) {
      lines.push(`| ${r.name} | error | - | - | - | ERROR |`)
      continue
    }
    if (r.kind === 'roundtrip') {
      const s = r.sides
      const verdict = s.sensitive.p50Us <= r.target ? 'ok' : 'MISSED'
      lines.push(`| roundtrip | median us per call, thread-sensitive | ${f1(s.sensitive.p50Us)} us | ${f1(s.piscina.p50Us)} us | raw Piscina, 1 thread | <= ${r.target} us ${verdict} |`)
      lines.push(`| roundtrip | mean us per call (1 / calls per s), thread-sensitive | ${f1(s.sensitive.meanUs)} us | ${f1(s.piscina.meanUs)} us | raw Piscina, 1 thread | (info) |`)
      lines.push(`| roundtrip | p99 us per call, thread-sensitive | ${f1(s.sensitive.p99Us)} us | ${f1(s.piscina.p99Us)} us | raw Piscina, 1 thread | (info) |`)
      lines.push(`| roundtrip | median us per call, threadSensitive: false | ${f1(s.pool.p50Us)} us | ${f1(s.piscina.p50Us)} us | raw Piscina, 1 thread | (info) |`)
    } else if (r.kind === 'pool') {
      const s = r.sides
      lines.push(`| pool | calls/s, ${IN_FLIGHT} in flight | ${Math.round(s.pool.callsPerSecond)} | ${Math.round(s.piscina.callsPerSecond)} | raw Piscina, same threads | (info) ratio ${f2(s.pool.callsPerSecond / s.piscina.callsPerSecond)} |`)
      lines.push(`| pool | calls per CPU-s of the process | ${Math.round(s.pool.callsPerCpu)} | ${Math.round(s.piscina.callsPerCpu)} | raw Piscina, same threads | (info) ratio ${f2(s.pool.callsPerCpu / s.piscina.callsPerCpu)} |`)
      lines.push(`| pool | p99 ms per call, ${IN_FLIGHT} in flight | ${f2(s.pool.p99Us / 1000)} ms | ${f2(s.piscina.p99Us / 1000)} ms | raw Piscina, same threads | (info) |`)
    } else if (r.kind === 'contexts') {
      const ideal = CONCURRENT * BLOCK_MS / CONTEXT_THREADS
      const ratio = r.wallMs / ideal
      lines.push(`| contexts | wall ms, ${CONCURRENT} requests x ${BLOCK_MS} ms thread-sensitive, ${CONTEXT_THREADS} threads | ${Math.round(r.wallMs)} ms | ${ideal} ms | ideal ${CONCURRENT} x ${BLOCK_MS} / ${CONTEXT_THREADS} | <= ${r.target}x ${ratio <= r.target ? 'ok' : 'MISSED'} (${f2(ratio)}x) |`)
    } else if (r.name.startsWith('db-')) {
      lines.push(`| ${r.name} | req/s, GET /db (10-row query) | ${Math.round(r.plugin.rps)} | ${Math.round(r.bare.rps)} | the query inline in an async view | >= ${r.target} ${r.paired >= r.target ? 'ok' : 'MISSED'} (paired ${f2(r.paired)}) |`)
      lines.push(`| ${r.name} | req per CPU-s of the server (its threads included) | ${Math.round(r.plugin.reqPerCpu)} | ${Math.round(r.bare.reqPerCpu)} | the query inline in an async view | (info) ratio ${f2(r.cpuRatio)} |`)
    } else {
      const loopP99 = (side) => median(r.rounds[side].map((s) => s.loopP99Ms))
      const verdict = r.plugin.p99Ms < r.target ? 'ok' : 'MISSED'
      lines.push(`| loop-latency | /json p99 | ${f2(r.plugin.p99Ms)} ms | ${f2(r.bare.p99Ms)} ms | same CPU work inline in an async view | < ${r.target} ms ${verdict} |`)
      lines.push(`| loop-latency | /json p50 | ${f2(median(r.rounds.plugin.map((s) => s.p50Ms)))} ms | ${f2(median(r.rounds.bare.map((s) => s.p50Ms)))} ms | same CPU work inline in an async view | (info) |`)
      lines.push(`| loop-latency | server event-loop delay p99 | ${f1(loopP99('plugin'))} ms | ${f1(loopP99('bare'))} ms | same CPU work inline in an async view | (info) |`)
      lines.push(`| loop-latency | /cpu requests done per s | ${f1(median(r.rounds.plugin.map((s) => s.busyDone / s.seconds)))} | ${f1(median(r.rounds.bare.map((s) => s.busyDone / s.seconds)))} | same CPU work inline in an async view | (info) |`)
    }
  }
  const noisy = results.filter((r) => !r.error && r.kind !== 'contexts' && (r.sides ? Object.values(r.sides).some((s) => s.noisy > 0) : r.bare.noisy + r.plugin.noisy > 0))
  const warning = noisy.length === 0
    ? ''
    : `Warning: other processes used > ${config.maxForeign * 100}% of the measured core(s) in some rounds of ${noisy.map((r) => r.name).join(', ')} ` +
      'even after retries; those numbers are not reliable. Rerun on an idle machine.\n'
  const details = results.filter((r) => !r.error).map((r) => {
    if (r.kind === 'contexts') return `- contexts (wall ms per burst): ${r.walls.map((w) => Math.round(w)).join(', ')}`
    if (r.name.startsWith('db-')) return `- ${r.name} (req/s per round): via the bridge ${r.rounds.plugin.map((s) => Math.round(s.rps)).join(', ')}; inline ${r.rounds.bare.map((s) => Math.round(s.rps)).join(', ')}`
    if (r.sides) {
      const list = (side) => r.rounds[side].map((s) => `${f1(s.p50Us)}/${f1(s.usPerCall)}/${f1(s.p99Us)}us/${Math.round(s.callsPerSecond)}/${Math.round(s.foreign * 100)}%`).join(', ')
      return `- ${r.name} (median / mean / p99 per call / calls per s / share used by others): ` + Object.keys(r.sides).map((side) => `${LABELS[side]} ${list(side)}`).join('; ')
    }
    const list = (side) => r.rounds[side].map((s) => `${f2(s.p50Ms)}/${f2(s.p99Ms)}ms/loop ${f1(s.loopP99Ms)}ms/${s.busyDone} cpu/${Math.round(s.foreign * 100)}%`).join(', ')
    return `- ${r.name} (/json p50 / p99 / loop delay p99 / /cpu done / share used by others): syncView ${list('plugin')}; inline ${list('bare')}`
  })
  return {
    markdown: lines.join('\n'),
    warning,
    legend: 'Medians over alternating rounds. "fastify-async-views" is the bridge (syncToAsync / syncView); "reference" is what it is compared with.',
    details: ['## Rounds', '', ...details]
  }
}
