// The redis suite: group fan-out across processes through Redis.
//
//   ours      2 app processes (the plugin, RedisChannelLayer), 500 WebSocket
//             clients split over them, each consumer in group `room`; a sender
//             socket on process 1 whose consumer calls groupSend('room', ...).
//   socketio  2 socket.io processes with @socket.io/redis-adapter (ioredis),
//             500 socket.io-client connections in room `room`; a sender socket
//             on process 1 whose handler calls io.to('room').emit(...).
//   fanout-4  the same with 4 app processes per side (ours4, socketio4), all on
//             the server core: a ratio, not a scaling figure.
//   memory    ours with the in-memory layer: 1 process, the same 500 clients (reference).
//   commands  Redis commands per groupSend (INFO commandstats deltas) to a
//             group of 10 members vs 500 members (members on both processes).
//
// Each scenario starts a redis-server of its own (free port, no persistence)
// and stops it, with every other process, before the next. Redis and every
// server process run on core 0, the clients (one process per side,
// bench/redis-clients.js) on core 1. The sender keeps at most BENCH_WINDOW
// broadcasts in flight (not yet delivered to every client); BENCH_BROADCASTS
// per round; fanout's rounds alternate ours, socket.io; medians over
// BENCH_ROUNDS. Every message is counted at every client: lost = expected -
// received. Server CPU = utime+stime of the side's app processes over the
// measured window (/proc/<pid>/stat), summed; Redis CPU likewise, apart.
//
// Env: BENCH_ROUNDS (5), BENCH_BROADCASTS (300), BENCH_WINDOW (8),
// BENCH_CLIENTS (500), BENCH_PAYLOAD (100 bytes of body), BENCH_PIN=0,
// BENCH_RETRIES (2), BENCH_CPU_PROF=<dir> (each server writes a .cpuprofile
// there when stopped; see servers/profile.js).
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { readFileSync } from 'node:fs'
import { Redis } from 'ioredis'
import { config, cpuSeconds, envInteger, median, startServer } from './harness.js'

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))

const settings = {
  broadcasts: envInteger('BENCH_BROADCASTS', 300),
  window: envInteger('BENCH_WINDOW', 8),
  clients: envInteger('BENCH_CLIENTS', 500, 2),
  payload: envInteger('BENCH_PAYLOAD', 100, 0),
  warmupBroadcasts: 50,
  smallPerServer: 5,
  // Targets: ours / socket.io, in deliveries/s and in deliveries per server CPU-s.
  target: 1.0
}

const SERVER_CORE = 0
const LOAD_CORE = 1
const pinned = (core, command, args) => config.pin ? ['taskset', ['-c', String(core), command, ...args]] : [command, args]

// ---------------------------------------------------------------- processes

// Everything we start is killed if the runner ends any other way.
const children = new Set()
process.on('exit', () => { for (const child of children) child.kill('SIGKILL') })

function track (child) {
  children.add(child)
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => { children.delete(child); resolve({ code, signal }) }))
  const stop = async (signal = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return exited
    child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    const result = await exited
    clearTimeout(timer)
    return result
  }
  return { exited, stop }
}

function freePort () {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Our own redis-server on a free port, no persistence, pinned with the servers. */
async function startRedis () {
  const port = await freePort()
  const [command, argv] = pinned(SERVER_CORE, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'])
  const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-2000) })
  const { stop, exited } = track(child)
  const url = `redis://127.0.0.1:${port}`
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  const deadline = Date.now() + 10000
  let failed = false
  exited.then(() => { failed = true })
  for (;;) {
    try {
      await client.connect()
      await client.ping()
      break
    } catch (error) {
      if (failed || Date.now() > deadline) {
        await stop('SIGKILL')
        throw new Error(`redis-server on port ${port} did not start: ${error.message}${stderr ? `\n${stderr}` : ''}`)
      }
      client.disconnect()
      await sleep(50)
    }
  }
  return {
    url,
    pid: child.pid,
    client,
    stop: async () => {
      client.disconnect()
      await stop()
    }
  }
}

/** A clients process pinned to the load core, driven over IPC. */
function startClients () {
  const [command, argv] = pinned(LOAD_CORE, process.execPath, [BENCH_DIR + 'redis-clients.js'])
  const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const { stop } = track(child)
  let seq = 0
  const pending = new Map()
  child.on('message', (message) => {
    const request = pending.get(message.seq)
    if (request === undefined) return
    pending.delete(message.seq)
    if (message.ok) request.resolve(message)
    else request.reject(new Error(`clients: ${message.error}`))
  })
  child.once('exit', (code, signal) => {
    for (const request of pending.values()) request.reject(new Error(`clients process exited (${signal ?? code})`))
    pending.clear()
  })
  const request = (message, timeoutMs = 120000) => new Promise((resolve, reject) => {
    const id = ++seq
    const timer = setTimeout(() => { pending.delete(id); reject(new Error(`clients: no answer to ${message.type} in ${timeoutMs} ms`)) }, timeoutMs)
    pending.set(id, { resolve: (m) => { clearTimeout(timer); resolve(m) }, reject: (e) => { clearTimeout(timer); reject(e) } })
    child.send({ ...message, seq: id })
  })
  return {
    pid: child.pid,
    request,
    close: async () => {
      if (child.connected) await request({ type: 'close' }, 5000).catch(() => {})
      await stop()
    }
  }
}

// ---------------------------------------------------------------- sides

// A side's name and its number of app processes: ours, socketio (2), ours4, socketio4 (4).
const processesOf = (name) => name.endsWith('4') ? 4 : 2
const kindOf = (name) => name.replace(/4$/, '')

/** Starts one side's servers and clients; resolves to { name, pids, usesRedis, clients, stop }. */
async function startSide (sideName, redis, id) {
  const name = kindOf(sideName)
  const processes = processesOf(sideName)
  const servers = []
  const clients = startClients()
  const stop = async () => {
    await clients.close()
    await Promise.all(servers.map((s) => s.stop()))
  }
  try {
    if (name === 'ours') {
      for (let i = 0; i < processes; i++) servers.push(await startServer(['servers/channels-server.js', 'redis', redis.url, `bench-${id}`]))
    } else if (name === 'socketio') {
      for (let i = 0; i < processes; i++) servers.push(await startServer(['servers/socketio-server.js', redis.url, `bench-sio-${id}`]))
    } else {
      servers.push(await startServer(['servers/channels-server.js', 'memory']))
    }
    const connected = await clients.request({
      type: 'connect',
      side: name === 'socketio' ? 'socketio' : 'ours',
      ports: servers.map((s) => s.port),
      clients: settings.clients,
      small: name === 'memory' ? 0 : settings.smallPerServer
    })
    return { name: sideName, pids: servers.map((s) => s.pid), usesRedis: name !== 'memory', clients, stop, members: connected.room, connectRetries: connected.connectRetries }
  } catch (error) {
    await stop()
    throw error
  }
}

const TICKS = 100 // USER_HZ: /proc/stat and /proc/<pid>/stat count in 1/100 s on Linux

/**
 * A core's time so far from /proc/stat: `task` (user+nice+system: processes),
 * `irq` (irq+softirq: much of it the loopback traffic of our own sockets, so it
 * is not counted as others' use) and `steal` (the hypervisor's).
 */
function coreTimes (core) {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${core} `))
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number)
  return { task: (user + nice + system) / TICKS, irq: (irq + softirq) / TICKS, steal: steal / TICKS }
}

/** utime and stime of a process in seconds (stime includes the loopback TCP work done in its system calls). */
function userSystem (pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { user: Number(fields[14 - 3]) / TICKS, system: Number(fields[15 - 3]) / TICKS }
}

const roundOptions = (broadcasts) => ({ type: 'round', broadcasts, window: settings.window, timeoutMs: 2000, payload: settings.payload })

/** One measured round of a side: the clients' counts plus CPU of its servers and of Redis. */
async function measure (side, redis) {
  const sum = (pids) => pids.reduce((total, pid) => total + cpuSeconds(pid), 0)
  const sys = (pids) => pids.reduce((total, pid) => total + userSystem(pid).system, 0)
  const serverBefore = sum(side.pids)
  const systemBefore = sys(side.pids)
  const redisBefore = cpuSeconds(redis.pid)
  const coreBefore = coreTimes(SERVER_CORE)
  const started = performance.now()
  const result = await side.clients.request(roundOptions(settings.broadcasts))
  const wall = (performance.now() - started) / 1000
  const serverCpu = sum(side.pids) - serverBefore
  const redisCpu = cpuSeconds(redis.pid) - redisBefore
  const serverSystem = sys(side.pids) - systemBefore
  const core = coreTimes(SERVER_CORE)
  // Redis sits on the server core too: it is ours, not a foreign process.
  const foreign = config.pin ? Math.max(0, (core.task - coreBefore.task - serverCpu - redisCpu + core.steal - coreBefore.steal) / wall) : 0
  return {
    ...result,
    serverCpu,
    serverSystem,
    redisCpu: side.usesRedis ? redisCpu : 0,
    perCpu: result.received / serverCpu,
    perCpuWithRedis: result.received / (serverCpu + (side.usesRedis ? redisCpu : 0)),
    irq: (core.irq - coreBefore.irq) / wall,
    foreign
  }
}

// ---------------------------------------------------------------- commands per groupSend

/** INFO commandstats -> { stats: { command: calls }, usec: { command: microseconds } }. */
function parseCommandstats (text) {
  const stats = {}
  const usec = {}
  for (const line of text.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim())
    if (m) {
      stats[m[1]] = Number(m[2])
      usec[m[1]] = Number(m[3])
    }
  }
  return { stats, usec }
}

/**
 * Commands Redis ran for one broadcast (everything any client of it issued,
 * including the commands inside Lua scripts), from CONFIG RESETSTAT to INFO
 * after every member got it. Several tries: the readers' idle BZPOPMIN
 * timeouts (every 2 s) may land in one; the median try is kept.
 */
async function commandsPerBroadcast (side, redis, group, tries = 7) {
  const samples = []
  for (let i = 0; i < tries; i++) {
    await sleep(30)
    await redis.client.config('RESETSTAT')
    const result = await side.clients.request({ type: 'once', group })
    if (result.lost > 0) throw new Error(`${side.name}: one broadcast to ${group} lost ${result.lost} of ${result.expected}`)
    // Let the readers finish the drain that follows each wake-up.
    await sleep(30)
    const { stats, usec } = parseCommandstats(await redis.client.info('commandstats'))
    // Our own INFO and CONFIG RESETSTAT are not the broadcast's.
    for (const command of Object.keys(stats)) if (/^(info|config)\b/.test(command)) delete stats[command]
    const total = Object.values(stats).reduce((a, b) => a + b, 0)
    // Redis time of the command that makes the broadcast (a script's includes the commands it runs).
    const sendUsec = (usec.evalsha ?? 0) + (usec.publish ?? 0)
    samples.push({ total, stats, sendUsec, members: result.members })
  }
  const sendUsec = median(samples.map((x) => x.sendUsec))
  samples.sort((a, b) => a.total - b.total)
  return { ...samples[samples.length >> 1], sendUsec }
}

// ---------------------------------------------------------------- the run

const LABELS = {
  ours: 'ours: RedisChannelLayer, 2 processes',
  socketio: 'socket.io + @socket.io/redis-adapter, 2 processes',
  ours4: 'ours: RedisChannelLayer, 4 processes',
  socketio4: 'socket.io + @socket.io/redis-adapter, 4 processes',
  memory: 'ours: InMemoryChannelLayer, 1 process (reference)'
}

/**
 * One scenario: our own redis-server, the sides' servers and clients, then
 * rounds alternating between the sides (and/or the commands count). Every
 * process it started is stopped before it returns.
 */
async function session (name, sideNames, { rounds: roundCount = config.rounds, commands: wantCommands = false, log }) {
  const redis = await startRedis()
  const sides = {}
  const rounds = Object.fromEntries(sideNames.map((n) => [n, []]))
  try {
    const id = `${process.pid}-${Date.now().toString(36)}`
    for (const side of sideNames) {
      sides[side] = await startSide(side, redis, id)
      log(`  ${side}: ${sides[side].pids.length} server process(es), ${sides[side].members} clients connected` +
        (sides[side].connectRetries > 0 ? ` (${sides[side].connectRetries} handshakes failed once and were retried)` : ''))
    }
    if (roundCount > 0) {
      // Every member must get the warm-up broadcasts before anything counts (memberships complete, JIT warm).
      for (const side of sideNames) {
        const warm = await sides[side].clients.request(roundOptions(settings.warmupBroadcasts))
        if (warm.lost > 0) throw new Error(`${side}: warm-up lost ${warm.lost} of ${warm.expected} deliveries`)
      }
    }
    for (let round = 1; round <= roundCount; round++) {
      for (const sideName of sideNames) {
        const side = sides[sideName]
        await side.clients.request(roundOptions(Math.max(10, settings.broadcasts >> 3)))
        let sample
        for (let attempt = 0; ; attempt++) {
          sample = await measure(side, redis)
          if (sample.foreign <= config.maxForeign || attempt === config.retries) break
          log(`  ${sideName} round ${round}/${roundCount}: core ${SERVER_CORE} ${Math.round(sample.foreign * 100)}% busy with others: measuring again`)
        }
        rounds[sideName].push(sample)
        log(`  ${sideName.padEnd(8)} round ${round}/${roundCount}  ${Math.round(sample.deliveriesPerSecond)} deliveries/s  p99 ${sample.p99Ms.toFixed(1)} ms  ` +
          `lost ${sample.lost}  server cpu ${sample.serverCpu.toFixed(2)} s (system ${sample.serverSystem.toFixed(2)})  redis cpu ${sample.redisCpu.toFixed(2)} s  ` +
          `${Math.round(sample.perCpu)} deliveries/server cpu-s  clients cpu ${sample.clientCpu.toFixed(2)} s in ${sample.seconds.toFixed(2)} s` +
          `  core ${SERVER_CORE}: others ${Math.round(sample.foreign * 100)}%, irq ${Math.round(sample.irq * 100)}%` +
          (sample.expired > 0 ? `  ${sample.expired} broadcasts not everywhere within 2 s` : '') +
          (sample.dups + sample.stray + sample.closed > 0 ? `  dups ${sample.dups} stray ${sample.stray} closed ${sample.closed}` : ''))
      }
    }
    let commands
    if (wantCommands) {
      commands = {}
      for (const side of sideNames) {
        commands[side] = {
          small: await commandsPerBroadcast(sides[side], redis, 'small'),
          room: await commandsPerBroadcast(sides[side], redis, 'room')
        }
        log(`  commands per broadcast, ${side}: ${commands[side].small.members} members ${commands[side].small.total}, ` +
          `${commands[side].room.members} members ${commands[side].room.total}`)
      }
    }
    return { name, rounds, commands }
  } catch (error) {
    return { name, rounds, error }
  } finally {
    await Promise.all(Object.values(sides).map((s) => s.stop()))
    await redis.stop()
  }
}

export const needsWrk = false
export const setup = `${settings.broadcasts} broadcasts per round (+${settings.warmupBroadcasts} warm-up), ` +
  `at most ${settings.window} broadcasts in flight, ${settings.clients} clients, ${settings.payload}-byte body, own redis-server, ` +
  `${config.pin ? 'servers and redis-server on core 0, clients on core 1 (taskset)' : 'no CPU pinning'}` +
  ' (BENCH_SECONDS/BENCH_WARMUP do not apply: each round is a fixed number of broadcasts)'

export const scenarios = [
  {
    name: 'fanout',
    about: `ours (2 processes, RedisChannelLayer) vs socket.io + @socket.io/redis-adapter (2 processes): ${settings.clients} clients ` +
      'in group/room `room` split over both, one sender socket on process 1; rounds alternate ours, socket.io',
    run: (scenario, { log }) => session(scenario.name, ['ours', 'socketio'], { log })
  },
  {
    name: 'fanout-4',
    about: `the same with 4 app processes per side (on core 0 with Redis, as with 2: a ratio, not scaling): ${settings.clients} clients split over 4, rounds alternate ours, socket.io`,
    run: (scenario, { log }) => session(scenario.name, ['ours4', 'socketio4'], { log })
  },
  {
    name: 'memory',
    about: `ours with the in-memory layer, 1 process, the same ${settings.clients} clients and sender (reference)`,
    run: (scenario, { log }) => session(scenario.name, ['memory'], { log })
  },
  {
    name: 'commands',
    about: `Redis commands per broadcast (INFO commandstats deltas on our own redis-server, median of 7) to a group of ${2 * settings.smallPerServer} ` +
      `vs ${settings.clients} members over 2 processes, for our groupSend and for socket.io's io.to(room).emit`,
    run: (scenario, { log }) => session(scenario.name, ['ours', 'socketio'], { rounds: 0, commands: true, log })
  }
]

// ---------------------------------------------------------------- the table

function summarize (samples) {
  if (samples.length === 0) return undefined
  return {
    dps: median(samples.map((s) => s.deliveriesPerSecond)),
    p50: median(samples.map((s) => s.p50Ms)),
    p99: median(samples.map((s) => s.p99Ms)),
    lost: samples.reduce((a, s) => a + s.lost, 0),
    expected: samples.reduce((a, s) => a + s.expected, 0),
    anomalies: samples.reduce((a, s) => a + s.dups + s.stray + s.closed, 0),
    serverCpu: median(samples.map((s) => s.serverCpu)),
    redisCpu: median(samples.map((s) => s.redisCpu)),
    perCpu: median(samples.map((s) => s.perCpu)),
    perCpuWithRedis: median(samples.map((s) => s.perCpuWithRedis)),
    noisy: samples.filter((s) => s.foreign > config.maxForeign).length
  }
}

export function report (results) {
  const byName = Object.fromEntries(results.map((r) => [r.name, r]))
  const summary = {}
  for (const r of results) {
    for (const [side, samples] of Object.entries(r.rounds ?? {})) if (samples.length > 0) summary[side] = summarize(samples)
  }
  // Each side against socket.io with as many processes.
  const baseOf = (name) => summary[name === 'ours4' ? 'socketio4' : 'socketio']
  const f2 = (n) => Number.isFinite(n) ? n.toFixed(2) : '-'
  const ratio = (a, b) => b ? a / b : NaN

  const sideNames = [...(byName.fanout ? ['ours', 'socketio'] : []), ...(byName['fanout-4'] ? ['ours4', 'socketio4'] : []), ...(byName.memory ? ['memory'] : [])]
  const lines = []
  if (sideNames.length > 0) {
    lines.push(
      '| side | deliveries/s | p50 | p99 | lost | server CPU s (sum) | Redis CPU s | deliveries per server CPU-s | per CPU-s incl. Redis | vs socket.io deliveries/s | vs socket.io per server CPU-s | target |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |'
    )
    for (const name of sideNames) {
      const s = summary[name]
      if (s === undefined) {
        lines.push(`| ${LABELS[name]} | error | - | - | - | - | - | - | - | - | - | ERROR |`)
        continue
      }
      const base = baseOf(name)
      const isBase = name.startsWith('socketio')
      const r1 = isBase ? 1 : ratio(s.dps, base?.dps)
      const r2 = isBase ? 1 : ratio(s.perCpu, base?.perCpu)
      let verdict
      if (name === 'ours' || name === 'ours4') {
        const ok = r1 >= settings.target && r2 >= settings.target && s.lost === 0 && s.anomalies === 0
        verdict = `>= ${f2(settings.target)}x in both, 0 lost: ${ok ? 'ok' : 'MISSED'}`
      } else if (s.lost > 0 || s.anomalies > 0) {
        verdict = '0 lost: MISSED'
      } else {
        verdict = isBase ? 'baseline' : 'reference'
      }
      lines.push(`| ${LABELS[name]} | ${Math.round(s.dps)} | ${f2(s.p50)} ms | ${f2(s.p99)} ms | ${s.lost} of ${s.expected} | ${f2(s.serverCpu)} | ` +
        `${name === 'memory' ? '-' : f2(s.redisCpu)} | ${Math.round(s.perCpu)} | ${Math.round(s.perCpuWithRedis)} | ${f2(r1)} | ${f2(r2)} | ${verdict} |`)
    }
  }

  const commands = byName.commands?.commands
  const breakdown = []
  if (commands) {
    const o = commands.ours
    const s = commands.socketio
    const constant = o.small.total === o.room.total
    // What the sender's groupSend itself runs; the rest are the two processes' readers (BZPOPMIN, then ZPOPMIN to drain).
    const ownPart = (sample) => Object.entries(sample.stats).filter(([c]) => !/^(bzpopmin|zpopmin)$/.test(c)).reduce((a, [, n]) => a + n, 0)
    if (lines.length > 0) lines.push('')
    lines.push(
      `| Redis commands per broadcast (INFO commandstats delta) | ${o.small.members} members | ${o.room.members} members | target |`,
      '| --- | ---: | ---: | --- |',
      `| ours: one groupSend, all commands (sender + both processes' readers) | ${o.small.total} | ${o.room.total} | constant: ${constant ? 'ok' : 'MISSED'} |`,
      `| ours: of which the groupSend itself (EVALSHA + the commands inside the script) | ${ownPart(o.small)} | ${ownPart(o.room)} | |`,
      `| socket.io + redis-adapter: one io.to(room).emit | ${s.small.total} | ${s.room.total} | - |`,
      `| ours: Redis time of the groupSend script (EVALSHA usec, median) | ${o.small.sendUsec} us | ${o.room.sendUsec} us | |`,
      `| socket.io: Redis time of the PUBLISH (usec, median) | ${s.small.sendUsec} us | ${s.room.sendUsec} us | |`
    )
    breakdown.push('## Commands by name (one broadcast, the median of 7)', '')
    for (const n of ['ours', 'socketio']) {
      for (const g of ['small', 'room']) {
        breakdown.push(`- ${n}, ${commands[n][g].members} members: ${Object.entries(commands[n][g].stats).sort().map(([c, k]) => `${c} ${k}`).join(', ')}`)
      }
    }
    breakdown.push('')
  }

  const noisy = sideNames.filter((n) => summary[n]?.noisy > 0)
  const warning = noisy.length === 0
    ? ''
    : `Warning: other processes used > ${config.maxForeign * 100}% of the server core in some rounds of ${noisy.join(', ')} even after retries; ` +
      'deliveries/s is not reliable there (per CPU-s is the least affected). Rerun on an idle machine.\n'

  const roundLines = sideNames.filter((n) => summary[n]).map((n) => `- ${n}: ${Object.values(byName).flatMap((r) => r.rounds?.[n] ?? []).map((s) =>
    `${Math.round(s.deliveriesPerSecond)}/${s.p99Ms.toFixed(1)}ms/lost ${s.lost}/${s.serverCpu.toFixed(2)}s (${s.serverSystem.toFixed(2)}s system)/${s.redisCpu.toFixed(2)}s/${s.clientCpu.toFixed(2)}s/${Math.round(s.foreign * 100)}%/${Math.round(s.irq * 100)}%`).join(', ')}`)
  return {
    markdown: lines.join('\n'),
    warning,
    legend: 'Medians over rounds (lost: the sum over every measured round; expected = broadcasts x clients). ' +
      'Delivery latency: from the sender writing a broadcast to a client reading it, both in the clients process (timestamp in the payload); ' +
      `with up to ${settings.window} broadcasts in flight it includes waiting behind the earlier ones. ` +
      'When the clients CPU in a round is close to its length, the clients process (core 1), not the servers, set the pace. ' +
      "Server CPU: utime+stime of the side's app processes over the measured window (from /proc), summed; Redis CPU: our redis-server's, same window. " +
      `Target: ours >= ${f2(settings.target)}x socket.io + redis-adapter in deliveries/s and in deliveries per server CPU-s, 0 lost, commands per groupSend constant.`,
    details: [
      ...breakdown,
      '## Rounds (deliveries/s / p99 / lost / server CPU s / Redis CPU s / clients CPU s / share of the server core used by other processes / by irq+softirq)',
      '',
      ...roundLines
    ]
  }
}
