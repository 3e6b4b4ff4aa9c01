// The HTTP suite's scenarios counted in CPU instructions per request instead
// of requests per second: `node bench/run.js instructions`.
//
// Each server runs under `valgrind --tool=callgrind` with instrumentation off
// until it has served BENCH_INSTR_WARMUP requests (V8 has compiled the hot
// paths by then); it is switched on (`callgrind_control -i on`) for
// BENCH_INSTR_REQUESTS more, then the server exits and callgrind reports what it
// collected. Instructions do not depend on what else the machine is doing, so
// the ratio holds still where req/s on a shared 2-core VM drifts (the req/s
// suite stays the figure the targets are judged on). Needs valgrind (Debian
// package `valgrind`); about a minute per side.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { envInteger } from './harness.js'
import { scenarios as httpScenarios } from './http.js'

const here = new URL('.', import.meta.url)
const WARMUP = envInteger('BENCH_INSTR_WARMUP', 20000)
const REQUESTS = envInteger('BENCH_INSTR_REQUESTS', 20000)
const REPEATS = envInteger('BENCH_INSTR_REPEATS', 2)
const CONCURRENCY = 10
const WARMUP_ROUNDS = 4

export const needsWrk = false
export const rounds = 1
export const fullSetup = `valgrind --tool=callgrind, ${WARMUP} requests uninstrumented (${WARMUP_ROUNDS} rounds, each on new connections), then ${REQUESTS} counted, lowest of ${REPEATS} runs per side, ${CONCURRENCY} keep-alive connections from a Node client outside valgrind, node ${process.version}`

function hasValgrind () {
  return spawnSync('sh', ['-c', 'command -v valgrind && command -v callgrind_control'], { stdio: 'ignore' }).status === 0
}

/** `n` GETs over `concurrency` keep-alive connections; rejects on a non-200. */
async function requests (url, n, concurrency = CONCURRENCY) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  let left = n
  const worker = async () => {
    while (left-- > 0) {
      await new Promise((resolve, reject) => {
        http.get(url, { agent }, (res) => {
          res.resume()
          res.on('end', () => res.statusCode === 200 ? resolve() : reject(new Error(`${url}: status ${res.statusCode}`)))
        }).on('error', reject)
      })
    }
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, worker))
  } finally {
    agent.destroy()
  }
}

/** Starts one side under callgrind, counts REQUESTS requests, returns instructions per request. */
async function countSide ([script, ...args], path) {
  const log = join(tmpdir(), `fav-callgrind-${process.pid}-${Date.now()}.log`)
  const child = spawn('valgrind', [
    '--tool=callgrind', '--instr-atstart=no', '--callgrind-out-file=/dev/null', `--log-file=${log}`,
    process.execPath, new URL(script, here).pathname, ...args
  ], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    let out = ''
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script} did not start under valgrind in 3 min`)), 180000)
      child.stdout.on('data', (chunk) => {
        out += chunk
        const m = /"port":(\d+)/.exec(out)
        if (m) { clearTimeout(timer); resolve(Number(m[1])) }
      })
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${script} exited with ${code} under valgrind`)) })
    })
    const url = `http://127.0.0.1:${port}${path}`
    // Warm-up in rounds, each on new connections: closing keep-alive sockets
    // runs code (and reshapes objects, deoptimising what assumed the old shapes)
    // that a single round only reaches when the counted window opens its own
    // connections; V8 then recompiled ~10k instructions' worth per request in
    // the window, on both sides.
    for (let i = 0; i < WARMUP_ROUNDS; i++) await requests(url, Math.ceil(WARMUP / WARMUP_ROUNDS))
    const on = spawnSync('callgrind_control', ['-i', 'on', String(child.pid)], { encoding: 'utf8' })
    if (on.status !== 0) throw new Error(`callgrind_control -i on failed: ${on.stderr || on.stdout}`)
    await requests(url, REQUESTS)
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await exited
    const m = /Collected : (\d+)/.exec(readFileSync(log, 'utf8'))
    if (!m) throw new Error(`no callgrind total in ${log}`)
    return Number(m[1]) / REQUESTS
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    rmSync(log, { force: true })
  }
}

// A run sometimes counts a few % more (seen: the same bare server 10% apart,
// once in four): a GC or a late compile landed in the window. Each side is
// counted REPEATS times and the lowest kept, since noise only ever adds; a
// server and path shared by several scenarios is counted once.
const counted = new Map()

function lowest (server, path) {
  const key = `${server.join(' ')} ${path}`
  if (!counted.has(key)) {
    counted.set(key, (async () => {
      let best = Infinity
      for (let i = 0; i < REPEATS; i++) best = Math.min(best, await countSide(server, path))
      return best
    })())
  }
  return counted.get(key)
}

async function run (scenario, { log }) {
  try {
    if (!hasValgrind()) throw new Error('valgrind not found (apt-get install -y valgrind)')
    const bare = await lowest(scenario.bare.server, scenario.bare.path)
    log(`  ${scenario.name} bare   ${Math.round(bare)} instructions/request`)
    const plugin = await lowest(scenario.plugin.server, scenario.plugin.path)
    log(`  ${scenario.name} plugin ${Math.round(plugin)} instructions/request`)
    return { name: scenario.name, target: scenario.target, bare, plugin, ratio: bare / plugin }
  } catch (error) {
    return { name: scenario.name, target: scenario.target, error }
  }
}

export const scenarios = httpScenarios.map((s) => ({ ...s, run }))

export function report (results) {
  const lines = [
    '| scenario | bare instructions/request | plugin instructions/request | plugin extra | bare/plugin (as a throughput ratio) | req/s target |',
    '| --- | ---: | ---: | ---: | ---: | --- |'
  ]
  for (const r of results) {
    if (r.error) {
      lines.push(`| ${r.name} | error | error | - | - | ${r.target.toFixed(2)} |`)
      continue
    }
    lines.push(`| ${r.name} | ${Math.round(r.bare)} | ${Math.round(r.plugin)} | +${Math.round(r.plugin - r.bare)} | ${r.ratio.toFixed(2)} | >= ${r.target.toFixed(2)} |`)
  }
  return {
    markdown: lines.join('\n'),
    warning: '',
    legend: 'Instructions per request counted by callgrind in the server process (every thread: V8 compiler and GC threads included), after a warm-up. ' +
      'User space only: the kernel\'s share of a request (socket reads and writes, alike on both sides) is not counted, so bare/plugin here ' +
      'is lower than the req/s ratio a CPU-bound server shows; it is the figure to watch when changing the hot path, as it does not drift with the machine. ' +
      'The warm-up is long (20,000 requests) because V8 goes on compiling for thousands of requests: with 2,000 the same server counted up to 20% apart between runs (V8 compiling inside the window); with 20,000 repeated counts agree within about 0.5%. Two builds of different code can still differ by ~1-2% from where V8 inlines, so read smaller differences as noise.',
    details: []
  }
}
