// The guide's sync_function: Django's make_password(), PBKDF2-SHA256 with
// crypto.pbkdf2Sync. A quarter of a second of CPU that blocks its thread, the
// kind of sync code that must never run on the event loop.
import { pbkdf2Sync, randomBytes } from 'node:crypto'

/** Django 4.2's default for pbkdf2_sha256. */
export const ITERATIONS = 600_000

/**
 * Hashes a password into Django's format, `pbkdf2_sha256$<iterations>$<salt>$<hash>`,
 * which Django's check_password() accepts.
 * @param salt 22 alphanumeric characters, random by default (as Django's)
 */
export function makePassword (password: string, salt: string = randomBytes(11).toString('hex')): string {
  const hash = pbkdf2Sync(password, salt, ITERATIONS, 32, 'sha256').toString('base64')
  return `pbkdf2_sha256$${ITERATIONS}$${salt}$${hash}`
}
