// Helpers of the fault tests: heap after a full GC, polling for a condition,
// timing a call, an app with two consumers in a group, and a layer that
// forwards the public contract to a real one.
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import asyncViews, { path, AsyncJsonWebsocketConsumer, type ChannelLayer, type ChannelLayerConfig, type InMemoryChannelLayer, type LayerMessage } from 'fastify-async-views'
import { WebsocketCommunicator } from 'fastify-async-views/testing'
import { sleep } from './helpers.ts'

/** How long `promise` takes to settle, and how; gives up after `capMs` (then `error` says so). */
export async function timed<T> (promise: PromiseLike<T>, capMs = 8000): Promise<{ ms: number, value?: T, error?: any }> {
  const started = Date.now()
  let timer: NodeJS.Timeout | undefined
  const cap = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`still pending after ${capMs} ms`)), capMs) })
  try {
    const value = await Promise.race([promise, cap])
    return { ms: Date.now() - started, value }
  } catch (error) {
    return { ms: Date.now() - started, error }
  } finally {
    clearTimeout(timer)
  }
}

class Room extends AsyncJsonWebsocketConsumer {
  override groups = ['room']
  async roomMessage (event: LayerMessage): Promise<void> { await this.sendJson({ text: event.text }) }
}

/** An app whose consumers at /ws/room/ are in group 'room', with alice and bob connected and seen in it. */
export async function roomApp (t: Test, channelLayer: ChannelLayerConfig): Promise<{ app: FastifyInstance, alice: WebsocketCommunicator, bob: WebsocketCommunicator }> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(asyncViews, { channelLayer, websocket: { urlpatterns: [path('ws/room/', Room.asHandler())] } })
  await app.ready()
  const alice = new WebsocketCommunicator(app, '/ws/room/')
  const bob = new WebsocketCommunicator(app, '/ws/room/')
  t.teardown(() => alice.disconnect())
  t.teardown(() => bob.disconnect())
  t.equal((await alice.connect()).connected, true, 'alice connects')
  t.equal((await bob.connect()).connected, true, 'bob connects')
  await app.channelLayer.groupSend('room', { type: 'room.message', text: 'before' })
  t.same(await alice.receiveJsonFrom(3000), { text: 'before' }, 'alice is in the group')
  t.same(await bob.receiveJsonFrom(3000), { text: 'before' }, 'bob is in the group')
  return { app, alice, bob }
}

let gc: (() => void) | undefined

/** heapUsed after two full GCs (exposes gc() to this process on first use). */
export function heapAfterGc (): number {
  if (gc === undefined) {
    v8.setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  }
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** Polls until `predicate()` holds; false after `timeoutMs`. */
export async function until (predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) return false
    await sleep(10)
  }
  return true
}

/** A layer with only the public contract (no push fast path), forwarding to `inner`; `overrides` replace methods. */
export function contractOnly (inner: InMemoryChannelLayer, overrides: Partial<ChannelLayer> = {}): ChannelLayer {
  return {
    capacity: inner.capacity,
    expiry: inner.expiry,
    groupExpiry: inner.groupExpiry,
    log: undefined,
    send: async (channel, message) => { await inner.send(channel, message) },
    receive: async (channel, options) => await inner.receive(channel, options),
    newChannel: async (prefix) => await inner.newChannel(prefix),
    groupAdd: async (group, channel) => { await inner.groupAdd(group, channel) },
    groupDiscard: async (group, channel) => { await inner.groupDiscard(group, channel) },
    groupSend: async (group, message) => { await inner.groupSend(group, message) },
    flush: async () => { await inner.flush() },
    close: async () => { await inner.close() },
    ...overrides
  }
}
