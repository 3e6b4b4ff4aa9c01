import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Writable } from 'node:stream'
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
