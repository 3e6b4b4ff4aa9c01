// JSON.stringify for sendJson, with a memory of one object.
//
// In a group fan-out every consumer builds an object from the same shared
// event (`{ message: event.message }`) and encodes it: hundreds of equal
// encodings in a row. The last flat object's fields are kept, and an object
// with the same keys, in the same order, holding the same primitive values
// reuses its JSON. Only plain objects whose values are all primitives are
// kept, so equal fields always mean equal JSON (nested objects could have
// changed since); anything else is simply encoded. The memory lasts until the
// end of the event-loop turn: a burst shares it, nothing outlives it.

const lastKeys: string[] = []
const lastValues: unknown[] = []
let lastJson: string | undefined
let clearing = false

function forget (): void {
  lastKeys.length = 0
  lastValues.length = 0
  lastJson = undefined
  clearing = false
}

export function encodeJson (content: unknown): string {
  if (typeof content !== 'object' || content === null || Object.getPrototypeOf(content) !== Object.prototype ||
      (content as { toJSON?: unknown }).toJSON !== undefined) {
    return JSON.stringify(content)
  }
  const fields = content as Record<string, unknown>
  if (lastJson !== undefined && sameFields(fields)) return lastJson
  const json = JSON.stringify(fields)
  remember(fields, json)
  return json
}

function sameFields (fields: Record<string, unknown>): boolean {
  let n = 0
  for (const key in fields) {
    if (n >= lastKeys.length || lastKeys[n] !== key || lastValues[n] !== fields[key]) return false
    n++
  }
  return n === lastKeys.length
}

function remember (fields: Record<string, unknown>, json: string): void {
  lastJson = undefined
  let n = 0
  for (const key in fields) {
    const value = fields[key]
    if (value !== null && (typeof value === 'object' || typeof value === 'function')) return
    lastKeys[n] = key
    lastValues[n] = value
    n++
  }
  lastKeys.length = n
  lastValues.length = n
  lastJson = json
  if (!clearing) {
    clearing = true
    setImmediate(forget)
  }
}
