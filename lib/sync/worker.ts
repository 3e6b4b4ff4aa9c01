// The piscina worker script: runs a sync export with the arguments it was
// sent and returns the v8-serialised outcome (transferred, not copied).
import { move, workerData } from 'piscina'
import { loadExport } from './modules.js'
import type { Outcome, Task, TaskResult } from './protocol.js'
import { isPrimitive, pack, packError, unpackArgs } from './serialize.js'
import { registerBridgeWorker } from './thread.js'
import { buildWorkerRequest, packViewResult } from './view-worker.js'

registerBridgeWorker((workerData as { threadSensitive?: boolean } | undefined)?.threadSensitive === true)

export default async function run (task: Task): Promise<TaskResult> {
  let outcome: Outcome
  try {
    const fn = await loadExport(task.u, task.n)
    const args = unpackArgs(task.a)
    if (task.view === true) {
      const request = buildWorkerRequest(args[0] as Parameters<typeof buildWorkerRequest>[0])
      outcome = { ok: true, v: packViewResult(await fn(request, args[1]), task.n) }
    } else {
      outcome = { ok: true, v: await fn(...args) }
    }
  } catch (error) {
    outcome = { ok: false, e: packError(error) }
  }
  // A primitive result goes back as it is: no serialiser on either side.
  if (outcome.ok && isPrimitive(outcome.v)) return outcome as TaskResult
  let bytes: Uint8Array
  try {
    bytes = pack(outcome)
  } catch (error) {
    const message = `The result of ${task.n}() cannot be sent back from the worker thread: ${(error as Error).message}`
    bytes = pack({ ok: false, e: packError(new TypeError(message)) } satisfies Outcome)
  }
  // Transfer only a buffer the bytes own whole (never a shared pool slab).
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return move(bytes) as Uint8Array
  return new Uint8Array(bytes)
}
