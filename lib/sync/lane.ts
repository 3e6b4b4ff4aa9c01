/**
 * A FIFO queue that lets at most `limit` calls run at once. Ours, not
 * piscina's, so that an aborted call still queued is dropped while one already
 * running is only detached (its result discarded) instead of its worker being
 * terminated, which would lose thread-sensitive state.
 */
export class Lane {
  limit: number
  #running = 0
  readonly #queue: Array<Pending | undefined> = []
  #head = 0

  constructor (limit: number) {
    this.limit = limit
  }

  get size (): number {
    return this.#queue.length - this.#head
  }

  run<T> (start: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted === true) return Promise.reject(abortError(signal))
    if (this.#running < this.limit && this.size === 0) {
      this.#running++
      return this.#detachable(start(), signal)
    }
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { start: start as () => Promise<unknown>, resolve: resolve as (v: unknown) => void, reject, signal, onAbort: undefined }
      if (signal !== undefined) {
        pending.onAbort = () => {
          const index = this.#queue.indexOf(pending, this.#head)
          if (index !== -1) this.#queue[index] = undefined
          reject(abortError(signal))
        }
        signal.addEventListener('abort', pending.onAbort, { once: true })
      }
      this.#queue.push(pending)
    })
  }

  #detachable<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const settled = promise.finally(() => this.#next())
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

  #next (): void {
    this.#running--
    while (this.#running < this.limit && this.#head < this.#queue.length) {
      const pending = this.#queue[this.#head]
      this.#queue[this.#head++] = undefined
      if (pending === undefined) continue
      if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort)
      this.#running++
      this.#detachable(pending.start(), pending.signal).then(pending.resolve, pending.reject)
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head)
      this.#head = 0
    }
  }

  /** Rejects every queued call (on close). */
  clear (error: Error): void {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const pending = this.#queue[i]
      if (pending === undefined) continue
      if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort)
      pending.reject(error)
    }
    this.#queue.length = 0
    this.#head = 0
  }
}

interface Pending {
  start: () => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

function abortError (signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  if (reason instanceof Error && reason.name === 'AbortError') return reason
  const error = new Error('The sync call was aborted', { cause: reason })
  error.name = 'AbortError'
  return error
}
