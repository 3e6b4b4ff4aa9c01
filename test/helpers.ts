import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { spawn } from 'node:child_process'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import asyncViews, { type AsyncViewsOptions } from 'fastify-async-views'

/** A Fastify app with the plugin registered and ready; closed when the test ends. */
export async function build (t: Test, options: AsyncViewsOptions, fastifyOptions: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(fastifyOptions)
  t.teardown(() => app.close())
  await app.register(asyncViews, options)
  await app.ready()
  return app
}

export interface LogCapture {
  lines: Array<Record<string, any>>
  options: FastifyServerOptions
}

/** Fastify logger options whose JSON lines land in `lines`. */
export function captureLogs (level = 'info'): LogCapture {
  const lines: Array<Record<string, any>> = []
  const stream = new Writable({
    write (chunk, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line))
      callback()
    }
  })
  return { lines, options: { logger: { level, stream } } }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Waits until `n` worker threads answer at once: `call` runs `n` times
 * concurrently, round after round (bounded), until the answers come from `n`
 * different threads. Workers start in the background, slowly on a loaded CI
 * machine under tap's loaders: a timing test measures the pool, not start-up.
 * Returns how many threads answered at once in the last round.
 */
export async function threadsUp (n: number, call: () => Promise<{ threadId: number }>): Promise<number> {
  let seen = 0
  for (let round = 0; round < 100 && seen < n; round++) {
    const answers = await Promise.all(Array.from({ length: n }, call))
    seen = new Set(answers.map((answer) => answer.threadId)).size
  }
  return seen
}

/**
 * Runs a Node script to its end (killed after 15 s): how it exited and what it
 * printed (stdout and stderr), for tests that a process exits by itself.
 */
export async function runScript (script: URL): Promise<{ code: number | null, signal: string | null, out: string, lastLine: unknown }> {
  const child = spawn(process.execPath, [fileURLToPath(script)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (chunk) => { out += chunk })
  child.stderr.on('data', (chunk) => { out += chunk })
  const timer = setTimeout(() => child.kill('SIGKILL'), 15000)
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])))
  clearTimeout(timer)
  let lastLine: unknown
  try {
    lastLine = JSON.parse(out.trim().split('\n').pop() ?? '')
  } catch {}
  return { code, signal, out, lastLine }
}

/** Starts an example the way the README does (`npx tsx <file>`) and returns its base URL. */
// The examples read their settings from the environment; a test decides them,
// not the shell (CI exports REDIS_URL, which would move the in-memory examples onto Redis).
const EXAMPLE_SETTINGS = ['REDIS_URL', 'LAYER_PREFIX', 'DEBUG', 'DATABASE_URL', 'DB_PATH', 'PG_TABLE', 'KEEP_ALIVE_MS', 'UPSTREAM_URL', 'UPSTREAM_TIMEOUT_MS', 'TLS_KEY', 'TLS_CERT', 'PORT', 'HOST', 'MEDIA_ROOT', 'SECRET_KEY', 'SYNC_THREADS']
function inheritedEnv (): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const key of EXAMPLE_SETTINGS) delete env[key]
  return env
}

export async function startExample (t: Test, file: string, env: Record<string, string> = {}): Promise<string> {
  const { spawn } = await import('node:child_process')
  const { fileURLToPath } = await import('node:url')
  const root = fileURLToPath(new URL('..', import.meta.url))
  const child = spawn(process.execPath, [fileURLToPath(new URL('../node_modules/tsx/dist/cli.mjs', import.meta.url)), file], {
    cwd: root,
    env: { ...inheritedEnv(), PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await exited
  })
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start:\n${output}`)), 20000)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      const m = /listening at (https?:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (m !== null) {
        clearTimeout(timer)
        resolve(m[1])
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${file} exited with ${code}:\n${output}`)) })
  })
}
