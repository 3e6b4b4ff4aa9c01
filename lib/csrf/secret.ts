import { hkdfSync } from 'node:crypto'
import { ImproperlyConfigured } from '../errors.js'
import { describe } from '../describe.js'

// Minimal `secretKey` handling for the csrf option (the sessions work owns the
// full one: to be unified). HKDF, not a password hash: the key is already random.

/** `secretKey` as a list, current key first; ImproperlyConfigured when `needer` needs it and it is absent or short. */
export function secretKeys (value: unknown, needer: string): string[] {
  if (value === undefined) throw new ImproperlyConfigured(`Option '${needer}' needs the option 'secretKey' (a random string of 32+ characters, Django's SECRET_KEY)`)
  const keys = Array.isArray(value) ? value : [value]
  if (keys.length === 0 || keys.some((key) => typeof key !== 'string' || key.length < 32)) {
    throw new ImproperlyConfigured(`Option 'secretKey' must be a string of 32+ characters or a non-empty list of them (got ${describe(value)})`)
  }
  return keys as string[]
}

/** A 32-byte key for one purpose, derived from a secret key with HKDF-SHA256. */
export function deriveKey (secretKey: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, 'fastify-async-views', purpose, 32))
}
