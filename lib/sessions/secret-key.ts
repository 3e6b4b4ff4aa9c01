// `secretKey`: Django's SECRET_KEY and SECRET_KEY_FALLBACKS. Each plugin gets
// its own key derived by HKDF-SHA256, never the secret itself (and never
// @fastify/secure-session's `secret`, a password hash costing 0.55 s and
// 260 MiB at start-up).
import { hkdfSync } from 'node:crypto'
import { ImproperlyConfigured } from '../errors.js'
import { describe } from '../describe.js'

/** The secrets of `secretKey`, current first (fallbacks only verify). */
export function checkSecretKey (value: unknown): string[] {
  const secrets = Array.isArray(value) ? value as unknown[] : [value]
  if (secrets.length === 0) throw new ImproperlyConfigured("Option 'secretKey' must be a string of 32+ characters, or a non-empty array of them (current first)")
  secrets.forEach((secret, i) => {
    const name = Array.isArray(value) ? `secretKey[${i}]` : 'secretKey'
    if (typeof secret !== 'string') throw new ImproperlyConfigured(`Option '${name}' must be a string of 32+ characters (got ${describe(secret)})`)
    if (secret.length < 32) throw new ImproperlyConfigured(`Option '${name}' must have 32 characters or more (got ${secret.length}); generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`)
  })
  return secrets as string[]
}

/** One 32-byte key per secret for `purpose` (HKDF-SHA256), current first. */
export function deriveKeys (secrets: readonly string[], purpose: string, length = 32): Buffer[] {
  return secrets.map((secret) => Buffer.from(hkdfSync('sha256', secret, 'fastify-async-views', purpose, length)))
}
