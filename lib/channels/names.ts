import { ERR_INVALID_NAME } from '../errors.js'
// Channels' naming rules: ASCII letters, digits, '-', '_', '.', under 100
// characters; a channel name may end in '!' plus a suffix (process-local names).

const CHANNEL = /^[a-zA-Z0-9\-_.]+(![a-zA-Z0-9\-_.]*)?$/
const GROUP = /^[a-zA-Z0-9\-_.]+$/
const MAX = 100

export function checkChannelName (name: unknown): string {
  if (typeof name !== 'string' || name.length >= MAX || !CHANNEL.test(name)) {
    throw new ERR_INVALID_NAME(`Channel name must be a string of ASCII letters, digits, '-', '_' or '.' (optionally '!' and a suffix), under ${MAX} characters (got ${JSON.stringify(name)})`)
  }
  return name
}

export function checkGroupName (name: unknown): string {
  if (typeof name !== 'string' || name.length >= MAX || !GROUP.test(name)) {
    throw new ERR_INVALID_NAME(`Group name must be a string of ASCII letters, digits, '-', '_' or '.', under ${MAX} characters (got ${JSON.stringify(name)})`)
  }
  return name
}

/** A layer message: a plain object with a string `type`. */
export interface LayerMessage {
  type: string
  [key: string]: unknown
}

/** The process-local part of a channel name: `specific.abc!xyz` -> `specific.abc!`. */
export function nonLocalName (name: string): string {
  const bang = name.indexOf('!')
  return bang === -1 ? name : name.slice(0, bang + 1)
}
