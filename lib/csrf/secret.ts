import { ImproperlyConfigured } from '../errors.js'
import { checkSecretKey, deriveKeys } from '../sessions/secret-key.js'

/** `secretKey` as a list, current key first; ImproperlyConfigured when `needer` needs it and it is absent or short. */
export function secretKeys (value: unknown, needer: string): string[] {
  if (value === undefined) throw new ImproperlyConfigured(`Option '${needer}' needs the option 'secretKey' (a random string of 32+ characters, Django's SECRET_KEY)`)
  return checkSecretKey(value)
}

/** A 32-byte key for one purpose, derived from a secret key with HKDF-SHA256. */
export function deriveKey (secretKey: string, purpose: string): Buffer {
  return deriveKeys([secretKey], purpose)[0]
}
