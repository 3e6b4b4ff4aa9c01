// One app process holding BENCH_WS_MASS (50,000) idle WebSocket connections,
// then fanning one group message out to all of them; beside raw
// @fastify/websocket holding the same count in the same run (ws-server.js
// raw | plugin, /fanout: every socket is a member of group 'bench'). Not in the
// default run: `node bench/run.js ws-50k`.
//
// Clients: BENCH_WS_MASS_PROCESSES (4) processes of bench/clients/ws-mass.js,
// each connecting from its own 127.0.0.x (one source address has ~28k ports
// for one server port). Open files are raised with `ulimit -n` for the server
// and the clients (as root the hard limit rises too; otherwise it must allow it).
//
// Per side: memory after full GCs with no connection, then with all open
// (heapUsed and RSS per connection = difference / count); then one socket
// sends a frame, the server broadcasts it to all: time from the send to the
// last delivery (every client's clock is this machine's), and how many were lost.
import { spawnSync } from 'node:child_process'
import { config, envInteger, startClient, startServer } from './harness.js'

const COUNT = envInteger('BENCH_WS_MASS', 50000)
const PROCESSES = envInteger('BENCH_WS_MASS_PROCESSES', 4)
const TARGET = 1.2
const NOFILE = COUNT + 1024

export const needsWrk = false
export const rounds = 1
export const fullSetup = `${COUNT} idle connections to one server process (core 0${config.pin ? ', taskset' : ''}) from ${PROCESSES} client processes ` +
  `(${config.pin ? 'core 1' : 'unpinned'}, one 127.0.0.x source address each), one round per side, node ${process.version}`

async function getJson (port, path) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`)
  const body = await response.json()
  if (response.status !== 200) throw new Error(`GET ${path} -> ${response.status}: ${JSON.stringify(body)}`)
  return body
}

async function waitFor (check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`${what} after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

async function side (variant, log) {
  const server = await startServer(['servers/ws-server.js', variant], { nodeArgs: ['--expose-gc'], nofile: NOFILE, timeoutMs: 30000 })
  const clients = []
  try {
    const before = await getJson(server.port, '/memory')
    const started = Date.now()
    for (let i = 0; i < PROCESSES; i++) {
      const count = Math.floor(COUNT / PROCESSES) + (i < COUNT % PROCESSES ? 1 : 0)
      clients.push(startClient(['clients/ws-mass.js', `ws://127.0.0.1:${server.port}/fanout`, String(count), `127.0.0.${i + 2}`], { nofile: count + 1024 }))
    }
    const connected = await Promise.all(clients.map((client) => client.next((m) => m.event === 'connected', 600000)))
    const connectMs = Date.now() - started
    const retries = connected.reduce((sum, m) => sum + m.retries, 0)
    await waitFor(async () => (await getJson(server.port, '/stats')).connections === COUNT, 60000, `the ${variant} server did not see ${COUNT} connections`)
    const after = await getJson(server.port, '/memory')
    const heap = (after.heapUsed - before.heapUsed) / COUNT
    const rss = (after.rss - before.rss) / COUNT
    log(`  ${variant}: ${COUNT} connected in ${connectMs} ms (${retries} handshakes retried); heap ${Math.round(heap)} B/conn, RSS ${Math.round(rss)} B/conn (heap ${(after.heapUsed / 2 ** 20).toFixed(1)} MiB, RSS ${(after.rss / 2 ** 20).toFixed(1)} MiB)`)

    const sentAt = Date.now()
    clients[0].send({ cmd: 'send' })
    const delivered = await Promise.allSettled(clients.map((client) => client.next((m) => m.event === 'delivered', 60000)))
    const lastAt = Math.max(...delivered.filter((d) => d.status === 'fulfilled').map((d) => d.value.at))
    let got = 0
    for (const client of clients) {
      client.send({ cmd: 'count' })
      got += (await client.next((m) => m.event === 'count', 10000)).received
    }
    const lost = COUNT - got
    const fanoutMs = lastAt - sentAt
    log(`  ${variant}: one broadcast reached ${got} of ${COUNT} in ${fanoutMs} ms (${lost} lost)`)
    for (const client of clients) client.send({ cmd: 'close' })
    await Promise.all(clients.map((client) => client.next((m) => m.event === 'closed', 60000)))
    return { heap, rss, heapTotal: after.heapUsed, rssTotal: after.rss, connectMs, retries, fanoutMs, lost }
  } finally {
    await Promise.all(clients.map((client) => client.stop()))
    await server.stop()
  }
}

// `ulimit -n` cannot go past the hard limit without CAP_SYS_RESOURCE: say so before opening thousands of sockets.
const HARD_LIMIT = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim()) || Infinity

async function run (scenario, { log }) {
  try {
    if (HARD_LIMIT < NOFILE) {
      const room = HARD_LIMIT - 1024
      throw new Error(`the hard limit on open files is ${HARD_LIMIT} and this process may not raise it (no CAP_SYS_RESOURCE): ` +
        `one server process cannot hold ${COUNT} sockets here. Run as root with the capability, or with BENCH_WS_MASS=${room - room % 1000}`)
    }
    const bare = await side('raw', log)
    const plugin = await side('plugin', log)
    return { name: scenario.name, target: TARGET, bare, plugin }
  } catch (error) {
    return { name: scenario.name, error }
  }
}

export const scenarios = [{
  name: 'ws-50k',
  about: `${COUNT} idle sockets on /fanout (all in one group), then one group message to all; ` +
    'heap/RSS per connection = (after full GCs with them open - before) / count; fan-out = send to last delivery',
  run
}]

const kb = (bytes) => `${(bytes / 1024).toFixed(2)} KiB`
export function report (results) {
  const lines = ['| metric | raw @fastify/websocket | plugin | ratio | target |', '| --- | ---: | ---: | ---: | --- |']
  const details = []
  for (const r of results) {
    if (r.error) {
      lines.push(`| ${r.name} | error | error | - | ERROR |`)
      continue
    }
    const heapRatio = r.plugin.heap / r.bare.heap
    lines.push(`| heapUsed per connection | ${kb(r.bare.heap)} | ${kb(r.plugin.heap)} | ${heapRatio.toFixed(2)} | <= ${TARGET} ${heapRatio <= TARGET ? 'ok' : 'MISSED'} |`)
    lines.push(`| RSS per connection | ${kb(r.bare.rss)} | ${kb(r.plugin.rss)} | ${(r.plugin.rss / r.bare.rss).toFixed(2)} | (info) |`)
    lines.push(`| heapUsed / RSS with all open | ${(r.bare.heapTotal / 2 ** 20).toFixed(0)} / ${(r.bare.rssTotal / 2 ** 20).toFixed(0)} MiB | ${(r.plugin.heapTotal / 2 ** 20).toFixed(0)} / ${(r.plugin.rssTotal / 2 ** 20).toFixed(0)} MiB | - | (info) |`)
    lines.push(`| time to open all (handshakes retried) | ${(r.bare.connectMs / 1000).toFixed(1)} s (${r.bare.retries}) | ${(r.plugin.connectMs / 1000).toFixed(1)} s (${r.plugin.retries}) | - | (info) |`)
    lines.push(`| one group message to all | ${r.bare.fanoutMs} ms | ${r.plugin.fanoutMs} ms | ${(r.plugin.fanoutMs / r.bare.fanoutMs).toFixed(2)} | (info) |`)
    lines.push(`| lost | ${r.bare.lost} | ${r.plugin.lost} | - | 0 ${r.bare.lost + r.plugin.lost === 0 ? 'ok' : 'MISSED'} |`)
  }
  return { markdown: lines.join('\n'), warning: '', legend: 'ratio = plugin / raw (lower is better for memory and time).', details }
}
