// The WebSocket suite: consumers of the plugin vs hand-written
// @fastify/websocket handlers doing the same work (bench/servers/ws-server.js
// raw | plugin), driven by bench/clients/ws-client.js on core 1.
//
//   echo         request/response round trips on config.connections sockets
//   fanout       one group of BENCH_WS_FANOUT sockets, broadcasts with at most
//                BENCH_WS_WINDOW in flight; deliveries/s and delivery p99
//   idle-memory  heap (and RSS) per idle connection, BENCH_WS_IDLE of them
//
// In the tables the 'bare' side of harness.js is the raw handler.
// Env: BENCH_WS_FANOUT (1000), BENCH_WS_WINDOW (2; keep it under the layer's capacity,
// 100, or groupSend drops messages for full channels), BENCH_WS_IDLE (2000);
// echo uses BENCH_CONNECTIONS (50). 3 rounds unless BENCH_ROUNDS says otherwise.
import { config, envInteger, measuredClient, median, startClient, startServer } from './harness.js'

const FANOUT = envInteger('BENCH_WS_FANOUT', 1000)
const WINDOW = envInteger('BENCH_WS_WINDOW', 2)
const IDLE = envInteger('BENCH_WS_IDLE', 2000)
const CLIENT = 'clients/ws-client.js'
// Below this share of its core used in the window, a server was waiting for the client.
const BUSY = 0.85
// Servers and the client hold every socket in one process: a soft limit of
// open files below this is raised for them (up to the hard limit; past it
// they fail with EMFILE and the error says so).
const NOFILE = Math.max(FANOUT, IDLE, config.connections) + 256
const server = (variant, nodeArgs = []) => ({ server: ['servers/ws-server.js', variant], serverOptions: { nodeArgs, nofile: NOFILE } })

export const needsWrk = false
// Every measurement sets up its sockets again: 3 rounds keep the suite within ~4 minutes.
export const rounds = 3
export const setup = `server on core 0, ws client (node + ws, one process) on core ${config.pin ? '1 (taskset)' : 'any (no pinning)'}; ` +
  `echo ${config.connections} connections, fanout ${FANOUT} connections with ${WINDOW} broadcasts in flight, idle-memory ${IDLE} connections`

const wsUrl = (httpUrl) => httpUrl.replace(/^http/, 'ws')

/**
 * A harness.js load for echo/fanout: one client process sets up its sockets,
 * warms up and measures; the server's CPU window is taken between its
 * 'measuring' and 'window' lines, so connection set-up is not counted.
 */
const clientLoad = (mode, extraArgs) => async ({ url, pid, warmup = 0, seconds }) => {
  const result = await measuredClient([CLIENT, mode, wsUrl(url), ...extraArgs(), String(warmup), String(seconds)], { pid, warmup, seconds, nofile: NOFILE })
  if (result.errors > 0) throw new Error(`${mode}: ${result.errors} errors (wrong echoes, deliveries out of order or sockets closed by the server)`)
  if (result.lost > 0) throw new Error(`${mode}: ${result.lost} deliveries lost (${result.incomplete} broadcasts did not reach every client within 5 s)`)
  if (result.requests === 0) throw new Error(`${mode}: nothing was received in the measured window`)
  return {
    ...result,
    non2xx: 0,
    socketErrors: 0,
    note: `p50 ${result.p50Ms.toFixed(2)} ms` + (mode === 'fanout' ? `  ${result.broadcasts} broadcasts` : '')
  }
}

async function getJson (port, path) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`)
  const body = await response.json()
  if (response.status !== 200) throw new Error(`GET ${path} -> ${response.status}: ${JSON.stringify(body)}`)
  return body
}

/** Both servers answer /stats with no connection open. */
async function checkStats (servers) {
  for (const [side, { port }] of Object.entries(servers)) {
    const { connections } = await getJson(port, '/stats')
    if (connections !== 0) throw new Error(`${side}: ${connections} connections open before the first round`)
  }
}

async function waitForConnections (port, count, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { connections } = await getJson(port, '/stats')
    if (connections === count) return
    if (Date.now() > deadline) throw new Error(`server on port ${port} has ${connections} connections, expected ${count} after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Opens `count` idle connections, runs `during()` while they are open, closes them and waits for the server to see it. */
async function withIdleConnections (port, path, count, during) {
  const client = startClient([CLIENT, 'idle', `ws://127.0.0.1:${port}${path}`, String(count)], { nofile: NOFILE })
  try {
    await client.next((m) => m.event === 'connected', 120000)
    await waitForConnections(port, count, 15000)
    const value = await during()
    client.send({ cmd: 'close' })
    const { errors } = await client.next((m) => m.event === 'closed', 30000)
    if (errors > 0) throw new Error(`${errors} idle sockets were closed by the server`)
    await waitForConnections(port, 0, 30000)
    return value
  } finally {
    await client.stop()
  }
}

/**
 * Memory per idle connection: per round and side, heapUsed / external / RSS
 * after full GCs with no connection, then with IDLE connections open; the
 * difference divided by IDLE. Rounds alternate raw, plugin, raw ...
 */
async function idleMemory (scenario, { log = () => {} } = {}) {
  const servers = {}
  try {
    servers.bare = await startServer(scenario.bare.server, scenario.bare.serverOptions)
    servers.plugin = await startServer(scenario.plugin.server, scenario.plugin.serverOptions)
    await checkStats(servers)
    // Warm-up: the code paths of a connection get compiled, lazily made
    // structures (groups, channel maps, timers) exist before the baseline.
    for (const side of ['bare', 'plugin']) await withIdleConnections(servers[side].port, scenario[side].path, Math.min(200, IDLE), async () => {})
    const rounds = { bare: [], plugin: [] }
    for (let round = 1; round <= config.rounds; round++) {
      for (const side of ['bare', 'plugin']) {
        const { port } = servers[side]
        const before = await getJson(port, '/memory')
        const after = await withIdleConnections(port, scenario[side].path, IDLE, () => getJson(port, '/memory'))
        const sample = {
          heap: (after.heapUsed - before.heapUsed) / IDLE,
          external: (after.external - before.external) / IDLE,
          rss: (after.rss - before.rss) / IDLE
        }
        rounds[side].push(sample)
        log(`  ${scenario.name} round ${round}/${config.rounds} ${side.padEnd(6)} heap ${Math.round(sample.heap)} B/conn  ` +
          `external ${Math.round(sample.external)} B/conn  rss ${Math.round(sample.rss)} B/conn`)
      }
    }
    const summary = (samples) => ({
      heap: median(samples.map((s) => s.heap)),
      external: median(samples.map((s) => s.external)),
      rss: median(samples.map((s) => s.rss))
    })
    const bare = summary(rounds.bare)
    const plugin = summary(rounds.plugin)
    return { name: scenario.name, target: scenario.target, kind: 'memory', bare, plugin, ratio: plugin.heap / bare.heap, rssRatio: plugin.rss / bare.rss, rounds }
  } catch (error) {
    return { name: scenario.name, target: scenario.target, kind: 'memory', error }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()))
  }
}

export const scenarios = [
  {
    name: 'echo',
    about: `${config.connections} sockets each sending a text frame and waiting for its echo; raw \`socket.on('message', (d) => socket.send(d.toString()))\` ` +
      'vs an AsyncWebsocketConsumer whose `receive({ text })` does `await this.send({ text })`. Rate = round trips/s, p99 = round trip',
    target: 0.80,
    unit: 'round trips',
    warmupInLoad: true,
    // Each measurement sets its sockets up again: measure a noisy window again once at most.
    retries: Math.min(config.retries, 1),
    check: checkStats,
    load: clientLoad('echo', () => [String(config.connections)]),
    bare: { ...server('raw'), path: '/echo' },
    plugin: { ...server('plugin'), path: '/echo' }
  },
  {
    name: 'fanout',
    about: `${FANOUT} sockets in one group; one of them sends, the server broadcasts {type, seq, t} to all (at most ${WINDOW} broadcasts in flight); ` +
      'raw: a Map of Sets with JSON.stringify per delivery; plugin: AsyncJsonWebsocketConsumer, `channelLayer.groupSend` on the InMemoryChannelLayer and `sendJson` in the handler. ' +
      'Rate = deliveries/s (messages received by all clients), p99 = send to delivery',
    target: 0.75,
    unit: 'deliveries',
    warmupInLoad: true,
    // Each measurement sets its sockets up again: measure a noisy window again once at most.
    retries: Math.min(config.retries, 1),
    check: checkStats,
    load: clientLoad('fanout', () => [String(FANOUT), String(WINDOW)]),
    bare: { ...server('raw'), path: '/fanout' },
    plugin: { ...server('plugin'), path: '/fanout' }
  },
  {
    name: 'idle-memory',
    about: `${IDLE} idle connections to /echo; (memory with them open - memory before) / ${IDLE}, both after full GCs (--expose-gc). ` +
      'Target on heapUsed; external and RSS shown for reference (RSS rarely shrinks after a round, so later rounds understate it)',
    target: 1.5,
    run: idleMemory,
    bare: { ...server('raw', ['--expose-gc']), path: '/echo' },
    plugin: { ...server('plugin', ['--expose-gc']), path: '/echo' }
  }
]

/** The ws table: rates and p99 for echo/fanout, bytes per connection for idle-memory. */
export function report (results) {
  const f2 = (n) => n.toFixed(2)
  const kb = (n) => `${(n / 1024).toFixed(2)} KiB`
  const lines = [
    '| scenario | metric | raw | plugin | ratio | raw p99 | plugin p99 | per server CPU-s ratio | target |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |'
  ]
  for (const r of results) {
    const scenario = scenarios.find((s) => s.name === r.name)
    if (r.error) {
      lines.push(`| ${r.name} | - | error | error | - | - | - | - | ${r.kind === 'memory' ? '<=' : '>='} ${f2(r.target)} ERROR |`)
      continue
    }
    if (r.kind === 'memory') {
      lines.push(`| ${r.name} | heapUsed per connection | ${kb(r.bare.heap)} | ${kb(r.plugin.heap)} | ${f2(r.ratio)} | - | - | - | <= ${f2(r.target)} ${r.ratio <= r.target ? 'ok' : 'MISSED'} |`)
      lines.push(`| ${r.name} | external per connection | ${kb(r.bare.external)} | ${kb(r.plugin.external)} | - | - | - | - | (info) |`)
      lines.push(`| ${r.name} | RSS per connection | ${kb(r.bare.rss)} | ${kb(r.plugin.rss)} | ${f2(r.rssRatio)} | - | - | - | (info) |`)
      continue
    }
    // A server that was not kept busy did not set the rate: the client did (it
    // does as much work per message as the server). Then only the CPU-s ratio
    // tells the servers apart, and the verdict uses it.
    // (A core taken by other processes is not idle: that is noise, flagged below.)
    const busy = (side) => median(r.rounds[side].map((s) => s.cpu / s.window.wall))
    const saturated = (side) => median(r.rounds[side].map((s) => s.cpu / s.window.wall + s.foreign))
    const clientBound = Math.min(saturated('bare'), saturated('plugin')) < BUSY
    const judged = clientBound ? r.cpuRatio : r.ratio
    const verdict = `>= ${f2(r.target)} ${judged >= r.target ? 'ok' : 'MISSED'}` +
      (clientBound ? ` (by CPU-s ratio: servers only ${Math.round(busy('bare') * 100)}% / ${Math.round(busy('plugin') * 100)}% busy, client-bound)` : '')
    lines.push(`| ${r.name} | ${scenario.unit}/s | ${Math.round(r.bare.rps)} | ${Math.round(r.plugin.rps)} | ${f2(r.ratio)} | ${f2(r.bare.p99Ms)} ms | ${f2(r.plugin.p99Ms)} ms | ${f2(r.cpuRatio)} | ${verdict} |`)
  }
  const noisy = results.filter((r) => !r.error && r.kind !== 'memory' && r.bare.noisy + r.plugin.noisy > 0)
  const warning = noisy.length === 0
    ? ''
    : `Warning: other processes used > ${config.maxForeign * 100}% of the server's core in some rounds of ${noisy.map((r) => r.name).join(', ')} ` +
      'even after retries; those rates are not reliable (the per server CPU-s ratio is the least affected). Rerun on an idle machine.\n'
  const details = results.filter((r) => !r.error).map((r) => {
    if (r.kind === 'memory') {
      const list = (side) => r.rounds[side].map((s) => `${Math.round(s.heap)}/${Math.round(s.external)}/${Math.round(s.rss)}`).join(', ')
      return `- ${r.name} (heap / external / RSS bytes per connection): raw ${list('bare')}; plugin ${list('plugin')}`
    }
    const list = (side) => r.rounds[side].map((s) => `${Math.round(s.rps)}/${s.p50Ms.toFixed(2)}ms/${s.p99Ms.toFixed(2)}ms/${s.cpu.toFixed(2)}s of ${s.window.wall.toFixed(2)}s/${Math.round(s.foreign * 100)}%`).join(', ')
    return `- ${r.name} (rate / p50 / p99 / server CPU s of the window / share of the server core used by others): raw ${list('bare')}; plugin ${list('plugin')}`
  })
  return {
    markdown: lines.join('\n'),
    warning,
    legend: 'Medians over alternating rounds (raw, plugin, raw, ...). ratio = plugin / raw (for memory: plugin bytes / raw bytes, lower is better); ' +
      'per server CPU-s ratio = plugin / raw messages per second of server CPU (utime+stime) in the measured window. ' +
      `The one client process on core 1 does as much work per message as the server (fanout: it parses every delivery), so it can set the rate: when a server's core was < ${BUSY * 100}% busy ` +
      '(server + other processes) in the window, the rates are client-bound and the verdict uses the per server CPU-s ratio instead.',
    details: ['## Rounds', '', ...details]
  }
}
