#!/usr/bin/env node
// fastify-async-views worker --layer <redis-url|memory> [--prefix P] <module> [channel ...]
// Channels' `runworker`: consumes named channels with the consumers a module maps them to.
import { isAbsolute, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { channelWorker } from './channels/worker.js'
import { InMemoryChannelLayer } from './channels/memory.js'
import { RedisChannelLayer } from './channels/redis.js'
import type { AsyncConsumer } from './channels/consumer.js'
import type { ChannelLayer } from './channels/layer.js'

const USAGE = 'usage: fastify-async-views worker --layer <redis-url|memory> [--prefix P] <module> [channel ...]'

function fail (message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`)
  process.exit(2)
}

function log (level: string, obj: unknown, msg?: string): void {
  const line = typeof obj === 'string' ? { level, msg: obj } : { level, ...(obj as object), msg }
  const err = (line as { err?: unknown }).err
  if (err instanceof Error) (line as { err?: unknown }).err = { type: err.name, message: err.message, stack: err.stack }
  process.stderr.write(JSON.stringify(line) + '\n')
}

async function main (argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  if (command !== 'worker') fail(command === undefined ? 'missing command' : `unknown command '${command}'`)
  let layerSpec: string | undefined
  let prefix: string | undefined
  const positional: string[] = []
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]
    if (arg === '--layer') layerSpec = rest[++i]
    else if (arg === '--prefix') prefix = rest[++i]
    else if (arg.startsWith('--')) fail(`unknown option '${arg}'`)
    else positional.push(arg)
  }
  if (layerSpec === undefined) fail('--layer is required')
  const [modulePath, ...channels] = positional
  if (modulePath === undefined) fail('the consumers module is required')

  const href = pathToFileURL(isAbsolute(modulePath) ? modulePath : resolve(modulePath)).href
  const module = await import(href) as { default?: Record<string, new () => AsyncConsumer> }
  const all = module.default
  if (all === null || typeof all !== 'object') fail(`${modulePath} must export default { channel: ConsumerClass }`)
  const pick = (channel: string): [string, new () => AsyncConsumer] => {
    const Consumer = all[channel]
    if (Consumer === undefined) fail(`${modulePath} has no consumer for channel '${channel}'`)
    return [channel, Consumer]
  }
  const routes = channels.length === 0 ? all : Object.fromEntries(channels.map(pick))

  const logger = { info: (o: unknown, m?: string) => log('info', o, m), warn: (o: unknown, m?: string) => log('warn', o, m), error: (o: unknown, m?: string) => log('error', o, m) }
  let layer: ChannelLayer
  if (layerSpec === 'memory') {
    layer = new InMemoryChannelLayer({ log: logger })
  } else {
    const redis = new RedisChannelLayer({ url: layerSpec, prefix, log: logger })
    try {
      await redis.connect()
    } catch (error) {
      await redis.close()
      throw error
    }
    layer = redis
  }
  const worker = channelWorker(layer, routes, { log: logger })
  log('info', { channels: Object.keys(routes) }, `worker listening on ${Object.keys(routes).join(', ')}`)

  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    worker.stop().then(async () => { await layer.close() }).then(() => process.exit(0), (error: unknown) => {
      log('error', { err: error }, 'worker stopped with an error')
      process.exit(1)
    })
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  await worker.done
  if (!stopping) {
    log('warn', 'the channel layer closed; worker ends')
    await layer.close()
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  log('error', { err: error }, (error as Error)?.message ?? String(error))
  process.exit(1)
})
