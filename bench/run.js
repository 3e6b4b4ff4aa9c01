// Benchmark runner: `node bench/run.js [suite ...] [scenario ...]`
//
//   node bench/run.js                 every suite
//   node bench/run.js http            the HTTP suite
//   node bench/run.js http json int   only those scenarios of it
//   node bench/run.js ws              WebSocket consumers vs raw @fastify/websocket (ws.js)
//   node bench/run.js sync            the sync/async bridge (sync.js)
//   node bench/run.js redis           cross-process fan-out vs socket.io + redis-adapter (redis.js)
//   node bench/run.js auth            request.user with the cookie store vs no sessions; the loop during 20 logins (auth.js)
//   node bench/run.js instructions    the HTTP scenarios in instructions/request under callgrind (not in the default run)
//   node bench/run.js ws-50k          50,000 idle WebSockets in one process, then one fan-out to all (ws-50k.js; not in the default run)
//
// Env: BENCH_ROUNDS (5 rounds per side), BENCH_SECONDS (3 s measured),
// BENCH_WARMUP (1 s before each measured window), BENCH_CONNECTIONS (50),
// BENCH_PIN=0 (no taskset pinning), BENCH_RETRIES (2: a window during which
// other processes took > 10% of the server's core is measured again).
// BENCH_CPU_PROF=<dir> (every server writes a .cpuprofile there; servers/profile.js).
// ws.js, sync.js, redis.js and instructions.js list their own knobs.
//
// A suite is a module exporting `scenarios` (see http.js and harness.js
// runScenario for the shape). Add one by adding a line to SUITES; its table
// goes to bench/results/<suite>.md. A suite may also export `setup` (a line
// saying how it loads the servers; `fullSetup` replaces the whole line), `rounds` (its default when BENCH_ROUNDS is
// unset), `needsWrk = false`, and `report(results)`
// -> { markdown, warning, details: [lines for the file] } for its own table;
// a scenario with a `run(scenario, { log })` is run by it instead of
// runScenario (ws.js and sync.js do both).
import { mkdirSync, writeFileSync } from 'node:fs'
import { config, ensureWrk, runScenario, table } from './harness.js'

const SUITES = {
  http: () => import('./http.js'),
  ws: () => import('./ws.js'),
  sync: () => import('./sync.js'),
  redis: () => import('./redis.js'),
  auth: () => import('./auth.js'),
  // Not in the default run: valgrind takes minutes (`node bench/run.js instructions`).
  instructions: () => import('./instructions.js'),
  // Not in the default run: 50,000 sockets per side, minutes and GBs (`node bench/run.js ws-50k`).
  'ws-50k': () => import('./ws-50k.js')
}
const DEFAULT_SUITES = ['http', 'ws', 'sync', 'redis']

const args = process.argv.slice(2)
const suiteNames = args.filter((a) => a in SUITES)
const filters = args.filter((a) => !(a in SUITES))
const selected = suiteNames.length > 0 ? suiteNames : DEFAULT_SUITES

const suites = []
for (const name of selected) {
  const module = await SUITES[name]()
  const scenarios = module.scenarios
  const chosen = filters.length > 0 ? scenarios.filter((s) => filters.includes(s.name)) : scenarios
  if (chosen.length > 0) suites.push({ name, scenarios: chosen, all: scenarios, module })
}
const known = new Set(suites.flatMap((s) => s.all.map((x) => x.name)))
const unknown = filters.filter((f) => !known.has(f))
if (unknown.length > 0 || suites.length === 0) {
  console.error(`Unknown suite or scenario: ${unknown.join(', ') || '(none selected)'}. Suites: ${Object.keys(SUITES).join(', ')}.`)
  process.exit(2)
}

try {
  if (suites.some((s) => s.module.needsWrk !== false)) ensureWrk()
} catch (error) {
  console.error(error.message)
  process.exit(1)
}
// A Ctrl-C or kill of the runner must not leave servers running: exiting
// fires harness.js's 'exit' handler, which kills them.
process.once('SIGINT', () => process.exit(130))
process.once('SIGTERM', () => process.exit(143))

const wrkSetup = `wrk -t1 -c${config.connections}, ${config.pin ? 'server on core 0, wrk on core 1 (taskset)' : 'no CPU pinning'}`
// A suite may ask for fewer rounds by default (`export const rounds`); BENCH_ROUNDS wins.
const defaultRounds = config.rounds
const roundsOf = (suite) => process.env.BENCH_ROUNDS ? defaultRounds : suite.module.rounds ?? defaultRounds
const setupOf = (suite) => suite.module.fullSetup ?? `${roundsOf(suite)} rounds per side, ${config.warmup} s warm-up + ${config.seconds} s measured, ` +
  `${suite.module.setup ?? wrkSetup}, node ${process.version}`

/** The HTTP suite's table, warning and per-round lines (a suite may bring its own `report`). */
function wrkReport (results) {
  const markdown = table(results)
  // Other jobs on the server's core make a table meaningless: say so beside it.
  const noisy = results.filter((r) => !r.error && r.bare.noisy + r.plugin.noisy > 0)
  const warning = noisy.length === 0
    ? ''
    : `Warning: other processes used > ${config.maxForeign * 100}% of the server's core in some rounds of ${noisy.map((r) => r.name).join(', ')} ` +
      'even after retries; those numbers are not reliable (req per CPU-s is the least affected). Rerun on an idle machine.\n'
  // The file keeps what the table can't: baselines and every round.
  const rounds = results.filter((r) => !r.error).map((r) => {
    const list = (side) => r.rounds[side].map((s) => `${Math.round(s.rps)}/${s.p99Ms.toFixed(2)}ms/${s.cpu.toFixed(2)}s/${Math.round(s.foreign * 100)}%`).join(', ')
    return `- ${r.name}: bare ${list('bare')}; plugin ${list('plugin')}`
  })
  return {
    markdown,
    warning,
    legend: 'Medians over rounds; ratio of medians = median plugin req/s / median bare req/s; ' +
      'paired ratio = median over rounds of (plugin req/s / bare req/s of the same round; rounds run bare-plugin, then plugin-bare), ' +
      'the figure judged against the target, as it cancels the VM\'s drift between rounds; ' +
      'req per CPU-s ratio = plugin / bare requests per second of server CPU (utime+stime) in the measured window.',
    details: ['## Rounds (req/s / p99 / server CPU s / share of the server core used by others)', '', ...rounds]
  }
}

for (const suite of suites) console.error(`# ${suite.name}: ${setupOf(suite)}`)

let failed = false
for (const suite of suites) {
  const setup = setupOf(suite)
  config.rounds = roundsOf(suite)
  const results = []
  for (const scenario of suite.scenarios) {
    console.error(`${suite.name}/${scenario.name}: ${scenario.about ?? ''}`)
    const result = await (scenario.run ?? runScenario)(scenario, { log: (line) => console.error(line) })
    if (result.error) {
      failed = true
      console.error(`  ERROR ${scenario.name}: ${result.error.stack ?? result.error}`)
    }
    results.push(result)
  }

  const { markdown, warning, legend, details } = (suite.module.report ?? wrkReport)(results)
  console.log(`\n## ${suite.name}\n\n${markdown}\n\n${warning}`)

  const errors = results.filter((r) => r.error).map((r) => `- ${r.name}: ${String(r.error.message ?? r.error).split('\n').join('\n  ')}`)
  const file = [
    `# ${suite.name} benchmark`,
    '',
    `${new Date().toISOString()}: ${setup}. ${legend}`,
    '',
    markdown,
    '',
    ...(warning ? [warning] : []),
    ...suite.scenarios.map((s) => `- ${s.name}: ${s.about ?? ''}`),
    '',
    ...(errors.length ? ['## Errors', '', ...errors, ''] : []),
    ...details,
    ''
  ].join('\n')
  const dir = new URL('./results/', import.meta.url)
  mkdirSync(dir, { recursive: true })
  writeFileSync(new URL(`${suite.name}.md`, dir), file)
  console.error(`wrote bench/results/${suite.name}.md`)
}
process.exitCode = failed ? 1 : 0
