// Helpers of the fault tests: heap after a full GC, and polling for a condition.
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
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
