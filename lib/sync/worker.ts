// The piscina worker script: runs a sync export with the arguments it was
// sent and returns the v8-serialised outcome (transferred, not copied).
import { move, workerData } from 'piscina'
import { ERR_NOT_CLONEABLE } from '../errors.js'
import { checkNotThenable, checkSync, loadExport } from './modules.js'
import type { Outcome, Task, TaskResult } from './protocol.js'
import { isPrimitive, pack, packError, unpackArgs } from './serialize.js'
import { endView, ownsBuffer, registerBridgeWorker, serveTasks } from './thread.js'
import { buildWorkerRequest, packViewResult } from './view-worker.js'

registerBridgeWorker((workerData as { threadSensitive?: boolean } | undefined)?.threadSensitive === true)
serveTasks(execute)

/** piscina's entry: the outcome's bytes are moved back, not copied. */
export default async function run (task: Task): Promise<TaskResult> {
  const result = await execute(task)
  return result instanceof Uint8Array && ownsBuffer(result) ? move(result) as Uint8Array : result
}

async function execute (task: Task): Promise<TaskResult> {
  let outcome: Outcome
  try {
    const fn = await loadExport(task.u, task.n)
    const caller = task.view === true ? 'syncView()' : 'syncToAsync()'
    checkSync(fn, task.n, caller)
    const args = unpackArgs(task.a)
    let value: unknown
    if (task.view === true) {
      const request = buildWorkerRequest(args[0] as Parameters<typeof buildWorkerRequest>[0])
      value = fn(request, args[1])
      checkNotThenable(value, task.n, caller)
      value = packViewResult(value, task.n)
    } else {
      value = fn(...args)
      checkNotThenable(value, task.n, caller)
    }
    outcome = { ok: true, v: value }
  } catch (error) {
    outcome = { ok: false, e: packError(error) }
  }
  if (task.k !== undefined && endView(task.k)) outcome.l = true
  // A primitive result goes back as it is: no serialiser on either side.
  if (outcome.ok && isPrimitive(outcome.v)) return outcome as TaskResult
  let bytes: Uint8Array
  try {
    bytes = pack(outcome)
  } catch (error) {
    const message = `The result of ${task.n}() cannot be sent back from the worker thread: ${(error as Error).message}`
    bytes = pack({ ok: false, e: packError(new ERR_NOT_CLONEABLE(message)) } satisfies Outcome)
  }
  // Only a buffer the bytes own whole can be transferred (never a shared pool slab).
  return ownsBuffer(bytes) ? bytes : new Uint8Array(bytes)
}
