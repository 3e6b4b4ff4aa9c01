// Helpers of the fault tests: heap after a full GC, polling for a condition,
// and a layer that forwards the public contract to a real one.
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { ChannelLayer, InMemoryChannelLayer } from 'fastify-async-views'
import { sleep } from './helpers.ts'

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
