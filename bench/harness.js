// Shared machinery for benchmark suites: server processes, CPU pinning, wrk,
// the server's CPU time, medians and the markdown table. Suites (http.js, ...)
// only describe scenarios; run.js drives them through runScenario().
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))

/** A whole-number setting from the environment (`fallback` when unset). */
export function envInteger (name, fallback, min = 1) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  // wrk takes whole seconds only.
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number >= ${min} (got ${JSON.stringify(raw)})`)
  return value
}

export const config = {
  rounds: envInteger('BENCH_ROUNDS', 5),
  warmup: envInteger('BENCH_WARMUP', 1),
  seconds: envInteger('BENCH_SECONDS', 3),
  connections: envInteger('BENCH_CONNECTIONS', 50),
  // The server gets core 0 and the load generator core 1, so they never fight
  // for a core (the VM has 2). BENCH_PIN=0 turns it off.
  pin: process.env.BENCH_PIN !== '0' && hasCommand('taskset') && availableParallelism() >= 2,
  // Other jobs on this VM (test runs, builds) steal the server's core; a
  // window where they took more than this share is measured again.
  maxForeign: 0.10,
  retries: envInteger('BENCH_RETRIES', 2, 0)
}

function hasCommand (command) {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
  return r.status === 0
}

/**
 * Prefix a command with `taskset -c <cores>` when pinning is on. `cores` is a
 * core number or a taskset list ('0,1'); null leaves the command unpinned.
 */
export const SERVER_CORE = 0
export const LOAD_CORE = 1
export function pinned (cores, command, args) {
  return config.pin && cores !== null ? ['taskset', ['-c', String(cores), command, ...args]] : [command, args]
}

/** The soft limit on open files this process (and so its children) has. */
export const openFilesLimit = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim()) || Infinity

/**
 * [command, args] that runs with at least `nofile` open files allowed: under
 * a lower soft limit, through `sh -c 'ulimit -n N; exec ...'` (the pid stays
 * the command's own). Raising it past the hard limit fails quietly; the
 * command then meets EMFILE and says so.
 */
function withOpenFiles (nofile, [command, args]) {
  if (!nofile || openFilesLimit >= nofile) return [command, args]
  return ['sh', ['-c', `ulimit -n ${Number(nofile)} 2>/dev/null; exec "$@"`, 'sh', command, ...args]]
}

/** wrk must exist; as root we install it quietly from Debian, else say how. */
export function ensureWrk () {
  if (hasCommand('wrk')) return
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (root && hasCommand('apt-get')) {
    console.error('wrk not found; installing it with apt-get ...')
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const install = () => spawnSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'ignore', env }).status === 0
    // A fresh machine may have no package lists yet: update once and retry.
    if (install() || (spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env }).status === 0 && install())) {
      if (hasCommand('wrk')) return
    }
  }
  throw new Error('The benchmark needs wrk (https://github.com/wg/wrk) on PATH. Install it, e.g. `sudo apt-get install -y wrk`, and run again.')
}

// ---------------------------------------------------------------- servers

// Children still running (servers and wrk): never leave one behind, whatever way run.js ends.
const live = new Set()
process.on('exit', () => { for (const child of live) child.kill('SIGKILL') })

/**
 * Start `node bench/<script> ...args` pinned to core 0 and wait for its
 * `{"ready":true,"port":N}` line. Resolves to { pid, port, stop() }.
 * (taskset execs node, so the pid we get is the server's own.)
 * Options: `nodeArgs` (e.g. ['--expose-gc']) go before the script; `cores`
 * pins elsewhere (a taskset list, or null for no pinning); `nofile` raises
 * the open-files limit to that many if it is lower.
 */
export function startServer ([script, ...args], { timeoutMs = 15000, nodeArgs = [], cores = SERVER_CORE, nofile } = {}) {
  const [command, argv] = withOpenFiles(nofile, pinned(cores, process.execPath, [...nodeArgs, BENCH_DIR + script, ...args]))
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-4000) })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => { live.delete(child); resolve({ code, signal }) }))

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return exited
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    const result = await exited
    clearTimeout(timer)
    return result
  }

  return new Promise((resolve, reject) => {
    let ready = false
    const fail = (why) => {
      if (ready) return
      ready = true
      stop()
      reject(new Error(`server ${[script, ...args].join(' ')} ${why}${stderr ? `:\n${stderr.trim()}` : ''}`))
    }
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs)
    child.once('error', (error) => fail(`could not start (${error.message})`))
    // Give stderr a moment to arrive so the failure message carries it.
    exited.then(({ code, signal }) => setTimeout(() => { clearTimeout(timer); fail(`exited (${signal ?? code}) before it was ready`) }, 50))
    // Only a whole line that parses as our JSON counts: stray logs can't fool us.
    createInterface({ input: child.stdout }).on('line', (line) => {
      let message
      try { message = JSON.parse(line) } catch { return }
      if (!ready && message?.ready === true && Number.isInteger(message.port)) {
        ready = true
        clearTimeout(timer)
        resolve({ pid: child.pid, port: message.port, stop })
      }
    })
  })
}

/**
 * Start a load generator `node bench/<script> ...args` pinned to core 1 that
 * talks in JSON lines on stdout (and reads JSON lines on stdin). Returns
 * { pid, next(predicate, timeoutMs), send(message), stop(), exited }:
 * next() resolves with the first line (oldest first) matching the predicate,
 * and rejects if the client exits first or the time runs out. Options as
 * startServer's (`cores` defaults to the load generator's core).
 */
export function startClient ([script, ...args], { nodeArgs = [], cores = LOAD_CORE, nofile } = {}) {
  const [command, argv] = withOpenFiles(nofile, pinned(cores, process.execPath, [...nodeArgs, BENCH_DIR + script, ...args]))
  const child = spawn(command, argv, { stdio: ['pipe', 'pipe', 'pipe'] })
  live.add(child)
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-4000) })
  child.stdin.on('error', () => {})
  const lines = []
  const waiters = new Set()
  let gone
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    live.delete(child)
    // Give stderr a moment to arrive so a failure message carries it.
    setTimeout(() => {
      gone = new Error(`client ${[script, ...args].join(' ')} exited (${signal ?? code})${stderr ? `:\n${stderr.trim()}` : ''}`)
      for (const waiter of waiters) waiter.fail(gone)
      resolve({ code, signal })
    }, 50)
  }))
  child.once('error', (error) => { gone = error; for (const waiter of waiters) waiter.fail(error) })
  createInterface({ input: child.stdout }).on('line', (line) => {
    let message
    try { message = JSON.parse(line) } catch { return }
    lines.push(message)
    for (const waiter of waiters) waiter.check()
  })
  const next = (predicate, timeoutMs = 60000) => new Promise((resolve, reject) => {
    const waiter = {
      check () {
        const index = lines.findIndex(predicate)
        if (index === -1) return
        const [message] = lines.splice(index, 1)
        waiter.done()
        resolve(message)
      },
      fail (error) { waiter.done(); reject(error) },
      done () { clearTimeout(timer); waiters.delete(waiter) }
    }
    const timer = setTimeout(() => waiter.fail(new Error(`client ${script}: no expected line after ${timeoutMs} ms${stderr ? `:\n${stderr.trim()}` : ''}`)), timeoutMs)
    waiters.add(waiter)
    waiter.check()
    if (waiters.has(waiter) && gone) waiter.fail(gone)
  })
  const send = (message) => { if (child.exitCode === null) child.stdin.write(JSON.stringify(message) + '\n') }
  const stop = async () => {
    // A client that never started (spawn error) has nothing to stop or wait for.
    if (child.pid === undefined) return { code: null, signal: null }
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    return exited
  }
  return { pid: child.pid, next, send, stop, exited }
}

/**
 * Run a load-generator client that reports {"event":"measuring"} when its
 * measured window starts, {"event":"window"} when it ends and then
 * {"event":"result",...}; the server `pid`'s CPU is taken over exactly that
 * window (`core`: the core watched for other processes, see cpuWindow).
 * Resolves to the result line plus `window` ({ wall, cpu, foreign }).
 */
export async function measuredClient (argv, { pid, warmup = 0, seconds, setupMs = 120000, core = SERVER_CORE, nofile }) {
  const client = startClient(argv, { nofile })
  try {
    await client.next((m) => m.event === 'measuring', setupMs + warmup * 1000)
    const end = cpuWindow(pid, core)
    await client.next((m) => m.event === 'window', (seconds + 30) * 1000)
    const window = end()
    const result = await client.next((m) => m.event === 'result', 30000)
    return { ...result, window }
  } finally {
    await client.stop()
  }
}

// ---------------------------------------------------------------- CPU time

const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100

/** utime + stime of a process (all its threads), in seconds, from /proc/<pid>/stat. */
export function cpuSeconds (pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name may contain spaces or ')'; fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields 14 and 15 of stat(5); after the name we start at field 3.
  return (Number(fields[14 - 3]) + Number(fields[15 - 3])) / TICKS
}

/**
 * Busy and stolen seconds of one core so far, from /proc/stat. Busy minus the
 * server's own CPU tells whether something else ran on the server's core
 * during a window (other jobs on this machine make a round worthless).
 */
export function coreSeconds (core) {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${core} `))
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number)
  return { busy: (user + nice + system + irq + softirq) / TICKS, steal: steal / TICKS }
}

// ---------------------------------------------------------------- wrk

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60000, h: 3600000 }

/** Parse `wrk --latency` output into { requests, seconds, rps, p99Ms, non2xx, socketErrors }. */
export function parseWrk (text) {
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(text)
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m|h)\s*$/m.exec(text)
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text)
  if (!done || !p99 || !rps) throw new Error(`could not parse wrk output:\n${text}`)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
  return {
    requests: Number(done[1]),
    seconds: Number(done[2]) * UNIT_MS[done[3]] / 1000,
    rps: Number(rps[1]),
    p99Ms: Number(p99[1]) * UNIT_MS[p99[2]],
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
    socketErrors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0
  }
}

/** Run `wrk -t1 -c<connections> -d<seconds>s --latency <url>` on core 1. */
export function wrk (url, seconds, { connections = config.connections, extraArgs = [] } = {}) {
  const [command, argv] = pinned(LOAD_CORE, 'wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...extraArgs, url])
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    live.add(child)
    let out = ''
    child.stdout.on('data', (chunk) => { out += chunk })
    child.stderr.on('data', (chunk) => { out += chunk })
    // wrk stops itself after -d; this only guards against a hang.
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 15) * 1000)
    child.once('error', reject)
    child.once('exit', (code) => {
      live.delete(child)
      clearTimeout(timer)
      if (code !== 0) reject(new Error(`wrk exited with ${code}:\n${out}`))
      else {
        try { resolve(parseWrk(out)) } catch (error) { reject(error) }
      }
    })
  })
}

/** The default load: wrk against a GET url. A scenario may bring its own `load`. */
const wrkLoad = ({ url, seconds, wrkArgs }) => wrk(url, seconds, { extraArgs: wrkArgs })

// ---------------------------------------------------------------- a scenario

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** One GET before any load: both sides must answer 200 with the same body. */
async function checkSides (servers, scenario) {
  const bodies = {}
  for (const side of ['bare', 'plugin']) {
    const url = `http://127.0.0.1:${servers[side].port}${scenario[side].path}`
    const response = await fetch(url)
    const body = await response.text()
    if (response.status !== 200) throw new Error(`${side} GET ${scenario[side].path} -> ${response.status}: ${body.slice(0, 500)}`)
    bodies[side] = body
  }
  if (bodies.bare !== bodies.plugin) throw new Error(`bodies differ: bare ${bodies.bare.slice(0, 200)} vs plugin ${bodies.plugin.slice(0, 200)}`)
}

/**
 * Start watching a server process: the returned function gives, for the time
 * since, { wall, cpu } (the server's CPU seconds) and `foreign`, the share of
 * the server's core that other processes (or the hypervisor) took meanwhile.
 * `core` '' watches the whole machine (foreign is then in cores, not a share).
 */
export function cpuWindow (pid, core = SERVER_CORE) {
  const cpuBefore = cpuSeconds(pid)
  const coreBefore = coreSeconds(core)
  const started = performance.now()
  return () => {
    const wall = (performance.now() - started) / 1000
    const cpu = cpuSeconds(pid) - cpuBefore
    const now = coreSeconds(core)
    return { wall, cpu, foreign: config.pin ? Math.max(0, (now.busy - coreBefore.busy - cpu + now.steal - coreBefore.steal) / wall) : 0 }
  }
}

/**
 * One measured window against a running server: the load's numbers plus the
 * server's CPU time over it, and the share of the server's core that other
 * processes (or the hypervisor) took meanwhile. A load that knows better when
 * its window began and ended (connections to set up first...) returns its own
 * `window` ({ cpu, foreign }, from cpuWindow(pid)); it replaces ours.
 */
async function measure (load, options, pid) {
  const end = cpuWindow(pid)
  const result = await load({ ...options, pid, seconds: config.seconds })
  const { cpu, foreign } = result.window ?? end()
  return {
    ...result,
    cpu,
    reqPerCpu: cpu > 0 ? result.requests / cpu : NaN,
    foreign
  }
}

/**
 * Start both sides of a scenario (each its own process), then alternate
 * rounds bare, plugin, bare, plugin ... so slow drifts of a noisy VM hit
 * both sides alike. Each round: warm-up, then a measured window. A window
 * during which other processes took over config.maxForeign of the server's
 * core is measured again (config.retries times at most), then kept and flagged.
 * Returns the medians and every round.
 *
 * scenario: { name, target, about?, bare: { server: [script, ...args], path, serverOptions? }, plugin: {...},
 *             wrkArgs?: [...], load?: ({ url, seconds, wrkArgs, pid, side, round, warmup? }) => { requests, rps, p99Ms, non2xx, socketErrors, window?, note? },
 *             check?: (servers) => Promise (instead of the GET check), unit? ('req'), warmupInLoad?,
 *             retries? (config.retries; a costly load may measure again less often) }
 * serverOptions go to startServer ({ nodeArgs, cores, nofile }).
 */
export async function runScenario (scenario, { log = () => {} } = {}) {
  const load = scenario.load ?? wrkLoad
  const unit = scenario.unit ?? 'req'
  const servers = {}
  try {
    servers.bare = await startServer(scenario.bare.server, scenario.bare.serverOptions)
    servers.plugin = await startServer(scenario.plugin.server, scenario.plugin.serverOptions)
    if (scenario.check) await scenario.check(servers)
    else if (!scenario.load) await checkSides(servers, scenario)

    const rounds = { bare: [], plugin: [] }
    for (let round = 1; round <= config.rounds; round++) {
      // ABBA order: a machine slowing down or speeding up through a round favours neither side.
      for (const side of round % 2 === 1 ? ['bare', 'plugin'] : ['plugin', 'bare']) {
        const { pid, port } = servers[side]
        const options = { url: `http://127.0.0.1:${port}${scenario[side].path}`, wrkArgs: scenario.wrkArgs ?? [], side, round }
        // A load with costly set-up (a thousand WebSockets) warms up in the same go as it measures.
        if (scenario.warmupInLoad) options.warmup = config.warmup
        else await load({ ...options, pid, seconds: config.warmup })
        let sample
        for (let attempt = 0; ; attempt++) {
          sample = await measure(load, options, pid)
          if (sample.non2xx > 0) throw new Error(`${side}: ${sample.non2xx} non-2xx responses in round ${round}`)
          if (sample.foreign <= config.maxForeign || attempt >= (scenario.retries ?? config.retries)) break
          log(`  ${scenario.name} round ${round}/${config.rounds} ${side.padEnd(6)} core ${SERVER_CORE} ${Math.round(sample.foreign * 100)}% busy with others: measuring again`)
        }
        rounds[side].push(sample)
        log(`  ${scenario.name} round ${round}/${config.rounds} ${side.padEnd(6)} ${Math.round(sample.rps)} ${unit}/s  p99 ${sample.p99Ms.toFixed(2)} ms  ` +
          `cpu ${sample.cpu.toFixed(2)} s  ${Math.round(sample.reqPerCpu)} ${unit}/cpu-s` +
          (sample.note ? `  ${sample.note}` : '') +
          (sample.foreign > 0.05 ? `  core ${SERVER_CORE} ${Math.round(sample.foreign * 100)}% busy with others` : '') +
          (sample.socketErrors ? `  socket errors ${sample.socketErrors}` : ''))
      }
    }
    const summary = (samples) => ({
      rps: median(samples.map((s) => s.rps)),
      p99Ms: median(samples.map((s) => s.p99Ms)),
      reqPerCpu: median(samples.map((s) => s.reqPerCpu)),
      // Rounds kept although others used the server's core: the table gets a warning.
      noisy: samples.filter((s) => s.foreign > config.maxForeign).length
    })
    const bare = summary(rounds.bare)
    const plugin = summary(rounds.plugin)
    // Each round's plugin figure against the bare figure measured next to it: a VM whose
    // speed drifts between rounds (seen here: the same server at 36k and 64k req/s) moves both.
    const paired = median(rounds.plugin.map((s, i) => s.rps / rounds.bare[i].rps))
    return { name: scenario.name, target: scenario.target, bare, plugin, ratio: plugin.rps / bare.rps, paired, cpuRatio: plugin.reqPerCpu / bare.reqPerCpu, rounds }
  } catch (error) {
    return { name: scenario.name, target: scenario.target, error }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()))
  }
}

// ---------------------------------------------------------------- the table

export function table (results) {
  const f2 = (n) => n.toFixed(2)
  const lines = [
    '| scenario | bare req/s | plugin req/s | ratio of medians | paired ratio | bare p99 | plugin p99 | req per CPU-s ratio | target (paired) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |'
  ]
  for (const r of results) {
    if (r.error) {
      lines.push(`| ${r.name} | error | error | - | - | - | - | - | >= ${f2(r.target)} ERROR |`)
      continue
    }
    const verdict = r.paired >= r.target ? 'ok' : 'MISSED'
    lines.push(`| ${r.name} | ${Math.round(r.bare.rps)} | ${Math.round(r.plugin.rps)} | ${f2(r.ratio)} | ${f2(r.paired)} | ${f2(r.bare.p99Ms)} ms | ${f2(r.plugin.p99Ms)} ms | ${f2(r.cpuRatio)} | >= ${f2(r.target)} ${verdict} |`)
  }
  return lines.join('\n')
}
