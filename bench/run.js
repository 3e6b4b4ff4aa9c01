// Benchmark runner: `node bench/run.js [suite ...] [scenario ...]`
//
//   node bench/run.js                 every suite
//   node bench/run.js http            the HTTP suite
//   node bench/run.js http json int   only those scenarios of it
//
// Env: BENCH_ROUNDS (5 rounds per side), BENCH_SECONDS (3 s measured),
// BENCH_WARMUP (1 s before each measured window), BENCH_CONNECTIONS (50),
// BENCH_PIN=0 (no taskset pinning).
//
// A suite is a module exporting `scenarios` (see http.js and harness.js
// runScenario for the shape). Add one by adding a line to SUITES; its table
// goes to bench/results/<suite>.md.
import { mkdirSync, writeFileSync } from 'node:fs'
import { config, ensureWrk, runScenario, table } from './harness.js'

const SUITES = {
  http: () => import('./http.js')
}

const args = process.argv.slice(2)
const suiteNames = args.filter((a) => a in SUITES)
const filters = args.filter((a) => !(a in SUITES))
const selected = suiteNames.length > 0 ? suiteNames : Object.keys(SUITES)

const suites = []
for (const name of selected) {
  const { scenarios } = await SUITES[name]()
  const chosen = filters.length > 0 ? scenarios.filter((s) => filters.includes(s.name)) : scenarios
  if (chosen.length > 0) suites.push({ name, scenarios: chosen, all: scenarios })
}
const known = new Set(suites.flatMap((s) => s.all.map((x) => x.name)))
const unknown = filters.filter((f) => !known.has(f))
if (unknown.length > 0 || suites.length === 0) {
  console.error(`Unknown suite or scenario: ${unknown.join(', ') || '(none selected)'}. Suites: ${Object.keys(SUITES).join(', ')}.`)
  process.exit(2)
}

try {
  ensureWrk()
} catch (error) {
  console.error(error.message)
  process.exit(1)
}
// A Ctrl-C or kill of the runner must not leave servers running: exiting
// fires harness.js's 'exit' handler, which kills them.
process.once('SIGINT', () => process.exit(130))
process.once('SIGTERM', () => process.exit(143))

const setup = `${config.rounds} rounds per side, ${config.warmup} s warm-up + ${config.seconds} s measured, ` +
  `wrk -t1 -c${config.connections}, ${config.pin ? 'server on core 0, wrk on core 1 (taskset)' : 'no CPU pinning'}, node ${process.version}`
console.error(`# ${setup}`)

let failed = false
for (const suite of suites) {
  const results = []
  for (const scenario of suite.scenarios) {
    console.error(`${suite.name}/${scenario.name}: ${scenario.about ?? ''}`)
    const result = await runScenario(scenario, { log: (line) => console.error(line) })
    if (result.error) {
      failed = true
      console.error(`  ERROR ${scenario.name}: ${result.error.stack ?? result.error}`)
    }
    results.push(result)
  }

  const markdown = table(results)
  // Other jobs on the server's core make a table meaningless: say so beside it.
  const noisy = results.filter((r) => !r.error && Math.max(r.bare.foreign, r.plugin.foreign) > 0.1)
  const warning = noisy.length === 0
    ? ''
    : `Warning: other processes used > 10% of the server's core during ${noisy.map((r) => r.name).join(', ')}; ` +
      'those numbers are not reliable (req per CPU-s is the least affected). Rerun on an idle machine.\n'
  console.log(`\n## ${suite.name}\n\n${markdown}\n\n${warning}`)

  // The file keeps what the table can't: setup, baselines and every round.
  const rounds = results.filter((r) => !r.error).map((r) => {
    const list = (side) => r.rounds[side].map((s) => `${Math.round(s.rps)}/${s.p99Ms.toFixed(2)}ms/${s.cpu.toFixed(2)}s/${Math.round(s.foreign * 100)}%`).join(', ')
    return `- ${r.name}: bare ${list('bare')}; plugin ${list('plugin')}`
  })
  const errors = results.filter((r) => r.error).map((r) => `- ${r.name}: ${String(r.error.message ?? r.error).split('\n').join('\n  ')}`)
  const file = [
    `# ${suite.name} benchmark`,
    '',
    `${new Date().toISOString()}: ${setup}. Medians over rounds; ratio = plugin / bare req/s; ` +
      'req per CPU-s ratio = plugin / bare requests per second of server CPU (utime+stime) in the measured window.',
    '',
    markdown,
    '',
    ...(warning ? [warning] : []),
    ...suite.scenarios.map((s) => `- ${s.name}: ${s.about ?? ''}`),
    '',
    ...(errors.length ? ['## Errors', '', ...errors, ''] : []),
    '## Rounds (req/s / p99 / server CPU s / share of the server core used by others)',
    '',
    ...rounds,
    ''
  ].join('\n')
  const dir = new URL('./results/', import.meta.url)
  mkdirSync(dir, { recursive: true })
  writeFileSync(new URL(`${suite.name}.md`, dir), file)
  console.error(`wrote bench/results/${suite.name}.md`)
}
process.exitCode = failed ? 1 : 0
