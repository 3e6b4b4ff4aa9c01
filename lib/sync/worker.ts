// The bridge's worker script: piscina starts it; calls arrive over the bridge
// port (thread.ts) and run here, one at a time.
import { checkNotThenable, checkSync, loadExport, loadedExport } from './modules.js'
import { Result, type Task } from './protocol.js'
import { needsPacking, pack, packError, unpackArgs } from './serialize.js'
import { notSendable, registerBridgeWorker, serveTasks, type Outcome } from './thread.js'
import { buildWorkerRequest, packViewResult } from './view-worker.js'
import { workerData } from 'piscina'

registerBridgeWorker((workerData as { threadSensitive?: boolean } | undefined)?.threadSensitive === true)
serveTasks(execute)

/** piscina's entry, never used: calls come over the bridge port. */
export default function run (): never {
  throw new Error('fastify-async-views: bridge calls arrive over the bridge port, not as piscina tasks')
}

function execute (task: Task): Outcome | Promise<Outcome> {
  let fn: ReturnType<typeof loadedExport>
  try {
    fn = loadedExport(task.u, task.n)
  } catch (error) {
    return { tag: Result.ERROR, payload: packError(error) }
  }
  // First call of a module on this thread: import it, then run.
  if (fn === undefined) return loadExport(task.u, task.n).then(() => execute(task), (error: unknown) => ({ tag: Result.ERROR, payload: packError(error) }))
  try {
    const caller = task.view === true ? 'syncView()' : 'syncToAsync()'
    checkSync(fn, task.n, caller)
    const args = unpackArgs(task.a)
    let value: unknown
    if (task.view === true) {
      const request = buildWorkerRequest(args[0] as Parameters<typeof buildWorkerRequest>[0])
      value = fn(request, args[1])
      checkNotThenable(value, task.n, caller)
      const packed = packViewResult(value, task.n)
      // The body goes as bytes (the main thread makes it a Buffer again); JSON data is checked like any value.
      return packed.kind === 'json' && needsPacking(packed.data) ? packValue(packed, task) : { tag: Result.VALUE, payload: packed }
    }
    value = fn(...args)
    checkNotThenable(value, task.n, caller)
    return needsPacking(value) ? packValue(value, task) : { tag: Result.VALUE, payload: value }
  } catch (error) {
    return { tag: Result.ERROR, payload: packError(error) }
  }
}

// A value holding Buffers keeps them through v8's serialiser; one that cannot cross is the call's error.
function packValue (value: unknown, task: Task): Outcome {
  try {
    return { tag: Result.PACKED, payload: pack(value) }
  } catch (error) {
    return { tag: Result.ERROR, payload: packError(notSendable(task.n, error)) }
  }
}
