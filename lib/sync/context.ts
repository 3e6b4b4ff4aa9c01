import { AsyncLocalStorage } from 'node:async_hooks'

// asgiref's ThreadSensitiveContext, carried by AsyncLocalStorage. On Node 20
// an AsyncLocalStorage in use turns on promise hooks for the whole process
// (every promise pays), so the storage is made only once the bridge is used:
// until then `contexts.on` is false and the request path checks only that.

/** Where a thread-sensitive call made in this async context runs. */
export class SyncContext {
  /** The worker slot this context is pinned to, from its first thread-sensitive call on. */
  slot: object | undefined
  /** A bridge worker blocked in asyncToSync on the async code running here: its thread-sensitive calls run on it. */
  readonly waiting: object | undefined

  constructor (waiting?: object) {
    this.waiting = waiting
  }
}

/** `on` turns true, for good, when the first bridge function is made. */
export const contexts = { on: false }

let storage: AsyncLocalStorage<SyncContext> | undefined

/** Called when a bridge function is made (syncToAsync, syncView, threadSensitiveContext). */
export function enableContexts (): void {
  storage ??= new AsyncLocalStorage<SyncContext>()
  contexts.on = true
}

export function currentContext (): SyncContext | undefined {
  return storage?.getStore()
}

/** Runs `fn` in `context` (a fresh one by default). Only called once `contexts.on`. */
export function runInContext<T> (fn: () => T, context = new SyncContext()): T {
  return (storage as AsyncLocalStorage<SyncContext>).run(context, fn)
}

/**
 * asgiref's `ThreadSensitiveContext`: thread-sensitive calls made by `fn` and
 * everything it awaits run on one worker, in order; other contexts run in
 * parallel (up to the pool's size). A nested one joins the outer. The plugin
 * opens one per HTTP request and per WebSocket connection.
 */
export async function threadSensitiveContext<T> (fn: () => T | PromiseLike<T>): Promise<T> {
  enableContexts()
  if (currentContext() !== undefined) return await fn()
  return await runInContext(async () => await fn())
}
