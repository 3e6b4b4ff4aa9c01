// What a newcomer does: the README's "In your own app", step by step, in a
// fresh folder, with this package packed as npm would publish it. The steps
// and files come from the README (blocks under <!-- newcomer:... --> markers),
// so the README cannot drift from what works. Only one thing differs: `npm
// install fastify-async-views` installs the packed tarball. Other packages come
// from npm's cache when it has them (prefer-offline), else from the registry;
// an unreachable registry skips this test, except under CI=true.
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import type { Readable } from 'node:stream'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { markedBlock } from './readme-blocks.ts'
import { plainEnv } from './tsc.ts'

t.setTimeout(600_000)

const root = fileURLToPath(new URL('..', import.meta.url))
const NETWORK = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH)\b/

// npm without the settings `npm test` exports to its scripts, and without tap's loaders.
function npmEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = plainEnv()
  for (const key of Object.keys(env)) if (/^npm_/i.test(key)) delete env[key]
  return { ...env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...extra }
}

interface Run { code: number | null, output: string }

// tap's process hooks add themselves to every child's NODE_OPTIONS (and break
// TypeScript 7's ESM launcher): the shell drops them before the README's commands.
function shell (command: string, cwd: string, env: NodeJS.ProcessEnv): ChildProcess & { stdout: Readable, stderr: Readable } {
  return spawn('bash', ['-ec', `unset NODE_OPTIONS\n${command}`], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
}

/** Runs a shell command to its end (bounded by `ms`). */
function sh (command: string, cwd: string, ms: number, env = npmEnv()): Promise<Run> {
  return new Promise((resolve) => {
    const child = shell(command, cwd, env)
    let output = ''
    child.stdout.on('data', (chunk) => { output += chunk })
    child.stderr.on('data', (chunk) => { output += chunk })
    const timer = setTimeout(() => { output += `\n(killed after ${ms} ms)`; kill(child) }, ms)
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, output }) })
  })
}

function kill (child: ChildProcess): void {
  try { process.kill(-(child.pid as number), 'SIGTERM') } catch {}
}

/** A README sh line without its trailing comment, and that comment. */
function splitComment (line: string): { command: string, comment: string } {
  const m = /^(.*?)\s+#\s(.*)$/.exec(line)
  return m === null ? { command: line.trim(), comment: '' } : { command: m[1].trim(), comment: m[2].trim() }
}

t.test("the README's own-app steps work with the packed package", async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'fav-newcomer-'))
  t.teardown(() => rm(work, { recursive: true, force: true }))

  const packed = await sh(`npm pack --ignore-scripts --json --pack-destination ${JSON.stringify(work)}`, root, 120_000)
  t.equal(packed.code, 0, 'npm pack', { output: packed.output })
  const tarball = join(work, (JSON.parse(packed.output.slice(packed.output.indexOf('['))) as Array<{ filename: string }>)[0].filename)

  // The setup block, one script; `npm install fastify-async-views` gets the tarball.
  const setup = markedBlock('newcomer:setup')
  const commands = setup.code.split('\n').map((line) => splitComment(line).command).filter((command) => command !== '')
  const project = join(work, /\bcd (\S+)/.exec(setup.code)?.[1] ?? '.')
  const script = commands.map((command) => /^npm (install|i)\b/.test(command) ? command.replace(/(\s)fastify-async-views(?=\s|$)/, `$1${tarball}`) : command).join('\n')
  const installed = await sh(script, work, 300_000)
  if (installed.code !== 0 && NETWORK.test(installed.output) && process.env.CI !== 'true') {
    t.pass('skipped', { skip: `the npm registry is unreachable and npm's cache lacks a package (${NETWORK.exec(installed.output)?.[0]})` })
    return
  }
  t.equal(installed.code, 0, `README.md:${setup.line}: the setup steps run`, { output: installed.output })
  if (installed.code !== 0) return
  const ours = installed.output.split('\n').filter((line) => /^npm (warn|error)/i.test(line) && line.includes('fastify-async-views'))
  t.same(ours, [], 'installing the package prints no warning about it (no install scripts for allowScripts to flag)')

  for (const name of ['tsconfig.json', 'app.ts']) await writeFile(join(project, name), markedBlock(`newcomer:${name}`).code + '\n')

  const pkg = join(project, 'node_modules', 'fastify-async-views')
  await checkInstalledPackage(t, pkg, project)

  // The run block: each line in order; `npm run dev` / `npm start` serves
  // (in the background, on a free port); a curl line is a request whose
  // comment, when it is JSON, is the body expected.
  const run = markedBlock('newcomer:run')
  let base: string | undefined
  for (const [i, line] of run.code.split('\n').entries()) {
    const where = `README.md:${run.line + i}`
    const { command, comment } = splitComment(line)
    if (command === '') continue
    if (/^npm (run dev|start)\b/.test(command)) {
      base = await serve(t, command, project)
      t.ok(base, `${where}: ${command} serves`)
    } else if (command.startsWith('curl ')) {
      const url = new URL(command.split(/\s+/).pop() as string)
      const response = await fetch(new URL(url.pathname + url.search, base), { signal: AbortSignal.timeout(20_000) })
      t.equal(response.status, 200, `${where}: ${url.pathname} answers 200`)
      const body = await response.text()
      if (comment.startsWith('{')) t.same(JSON.parse(body), JSON.parse(comment), `${where}: ${url.pathname} answers ${comment}`)
    } else {
      const result = await sh(command, project, 120_000)
      t.equal(result.code, 0, `${where}: ${command}`, { output: result.output })
    }
  }
  t.ok(base, 'the run steps started the app')
})

/** Starts the app and resolves with its base URL once it listens (PORT=0: a free port). */
async function serve (t: Test, command: string, cwd: string): Promise<string> {
  const child = shell(command, cwd, npmEnv({ PORT: '0' }))
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  t.teardown(async () => { kill(child); await exited })
  let output = ''
  return await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not listen within 60 s:\n${output}`)), 60_000)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (m !== null) { clearTimeout(timer); resolve(m[1]) }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('close', (code) => { clearTimeout(timer); reject(new Error(`${command} exited with ${code}:\n${output}`)) })
  })
}

/** The package as npm installed it: license, sources behind the maps, no install scripts, stack traces. */
async function checkInstalledPackage (t: Test, pkg: string, project: string): Promise<void> {
  const license = await readFile(join(pkg, 'LICENSE'), 'utf8').catch(() => '')
  t.match(license, /^MIT License\n\nCopyright \(c\) \d{4} fastify-async-views contributors\n/, 'LICENSE: MIT, fastify-async-views contributors')

  const manifest = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8')) as { license: string, scripts?: Record<string, string> }
  t.equal(manifest.license, 'MIT')
  t.same(Object.keys(manifest.scripts ?? {}).filter((name) => ['preinstall', 'install', 'postinstall', 'prepare'].includes(name)), [], 'no script npm would run (or flag) at install')

  const missing: string[] = []
  let maps = 0
  for (const file of await readdir(join(pkg, 'dist'), { recursive: true })) {
    if (!file.endsWith('.map')) continue
    maps++
    const map = JSON.parse(await readFile(join(pkg, 'dist', file), 'utf8')) as { sources: string[], sourceRoot?: string }
    for (const source of map.sources) {
      const path = resolve(dirname(join(pkg, 'dist', file)), map.sourceRoot ?? '', source)
      if (!path.startsWith(pkg + '/') || !existsSync(path)) missing.push(`${file} -> ${source}`)
    }
  }
  t.ok(maps > 0, `${maps} source maps shipped`)
  t.same(missing, [], 'every source a map names is in the package')

  // An error thrown by the package, as a user sees it with source maps on.
  const script = "import { path } from 'fastify-async-views'; try { path(42) } catch (error) { console.log(error.stack) }"
  const thrown = await sh(`node --enable-source-maps --input-type=module -e ${JSON.stringify(script)}`, project, 60_000)
  const frame = /\((\/[^)]*?node_modules\/fastify-async-views\/[^):]+):\d+:\d+\)/.exec(thrown.output)
  t.ok(frame, 'the stack names a file of the package', { output: thrown.output })
  if (frame !== null) {
    t.match(relative(pkg, frame[1]), /^lib\/.+\.ts$/, 'mapped to its TypeScript source')
    t.ok(existsSync(frame[1]), `${relative(pkg, frame[1])} exists in the installed package`)
  }
}
