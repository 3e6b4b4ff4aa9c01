// Two small structures the layers, the consumers and the bridge share.

/** Someone waiting for a value: its owner settles it. */
export interface Waiter<T> {
  resolve (value: T): void
  reject (error: unknown): void
}

/**
 * Waits in `list` until the list's owner settles the waiter, or `signal`
 * aborts: then the waiter leaves the list (`onLeave` runs, to tidy up) and
 * the promise rejects with the signal's reason.
 */
export function waitIn<T> (list: Array<Waiter<T>>, signal: AbortSignal | undefined, onLeave?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal === undefined) {
      list.push({ resolve, reject })
      return
    }
    const onAbort = (): void => {
      const index = list.indexOf(waiter)
      if (index !== -1) list.splice(index, 1)
      onLeave?.()
      reject(signal.reason)
    }
    const waiter: Waiter<T> = {
      resolve: (value) => { signal.removeEventListener('abort', onAbort); resolve(value) },
      reject: (error) => { signal.removeEventListener('abort', onAbort); reject(error) }
    }
    list.push(waiter)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * A FIFO queue taken from the front by index (Array#shift copies the array):
 * the slots are reused once it runs empty.
 */
export class Queue<T> {
  #items: Array<T | undefined> = []
  #head = 0

  get size (): number {
    return this.#items.length - this.#head
  }

  push (item: T): void {
    this.#items.push(item)
  }

  /** The next item without taking it. */
  peek (): T | undefined {
    return this.#items[this.#head]
  }

  /** The next item, or undefined when the queue is empty. */
  shift (): T | undefined {
    const items = this.#items
    if (this.#head >= items.length) return undefined
    const item = items[this.#head]
    items[this.#head++] = undefined
    // Emptied: start over. A queue that never empties drops its taken front now and then, or it would only grow.
    if (this.#head === items.length) this.clear()
    else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      items.splice(0, this.#head)
      this.#head = 0
    }
    return item
  }

  clear (): void {
    this.#items.length = 0
    this.#head = 0
  }
}
