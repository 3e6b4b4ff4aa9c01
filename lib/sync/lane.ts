import { ERR_SYNC_ABORTED } from '../errors.js'
import { Queue } from '../waiting.js'

/**
 * A FIFO queue that lets at most `limit` calls run at once. Ours, not
 * piscina's, so that an aborted call still queued is dropped while one already
 * running is only detached (its result discarded) instead of its worker being
 * terminated, which would lose thread-sensitive state.
 */
export class Lane {
  #limit: number
  #running = 0
  readonly #queue = new Queue<Pending>()

  constructor (limit: number) {
    this.#limit = limit
  }

  get limit (): number {
    return this.#limit
  }

  /** A larger limit starts queued calls at once; a smaller one lets running calls finish. */
  set limit (limit: number) {
    this.#limit = limit
    this.#pump()
  }

  /** Calls running or waiting (dropped ones may still be counted until their turn). */
  get load (): number {
    return this.#running + this.#queue.size
  }

  run<T> (start: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted === true) return Promise.reject(abortError(signal))
    if (this.#running < this.#limit && this.#queue.size === 0) {
      this.#running++
      return this.#detachable(start(), signal)
    }
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { start: start as () => Promise<unknown>, resolve: resolve as (v: unknown) => void, reject, signal, onAbort: undefined, dropped: false }
      if (signal !== undefined) {
        pending.onAbort = () => {
          pending.dropped = true
          reject(abortError(signal))
        }
        signal.addEventListener('abort', pending.onAbort, { once: true })
      }
      this.#queue.push(pending)
    })
  }

  #detachable<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const settled = promise.finally(() => {
      this.#running--
      this.#pump()
    })
    if (signal === undefined) return settled
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(abortError(signal))
      signal.addEventListener('abort', onAbort, { once: true })
      settled.then((value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      }, (error) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      })
    })
  }

  #pump (): void {
    while (this.#running < this.#limit) {
      const pending = this.#queue.shift()
      if (pending === undefined) return
      if (pending.dropped) continue
      if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort)
      this.#running++
      this.#detachable(pending.start(), pending.signal).then(pending.resolve, pending.reject)
    }
  }

  /** Rejects every queued call (on close). */
  clear (error: Error): void {
    for (let pending = this.#queue.shift(); pending !== undefined; pending = this.#queue.shift()) {
      if (pending.dropped) continue
      if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort)
      pending.reject(error)
    }
  }
}

interface Pending {
  start: () => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
  dropped: boolean
}

function abortError (signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  if (reason instanceof Error && reason.name === 'AbortError') return reason
  const error = new ERR_SYNC_ABORTED('The sync call was aborted', { cause: reason })
  error.name = 'AbortError'
  return error
}
