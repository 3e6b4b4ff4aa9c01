// @ts-check
// The guide's sync_function: Django's make_password(), PBKDF2-SHA256 with
// crypto.pbkdf2Sync. A quarter of a second of CPU that blocks its thread, the
// kind of sync code that must never run on the event loop.
//
// JavaScript, not TypeScript, because the bridge's workers import() this file
// and tsx only hooks import() of .ts files on the main thread on Node 20
// (ERR_UNKNOWN_FILE_EXTENSION in the worker). Its types are in hashing.d.ts.
import { pbkdf2Sync, randomBytes } from 'node:crypto'

/** Django 4.2's default for pbkdf2_sha256. */
export const ITERATIONS = 600_000

/**
 * Hashes a password into Django's format, `pbkdf2_sha256$<iterations>$<salt>$<hash>`,
 * which Django's check_password() accepts.
 * @param {string} password
 * @param {string} [salt] 22 alphanumeric characters, random by default (as Django's)
 * @returns {string}
 */
export function makePassword (password, salt = randomBytes(11).toString('hex')) {
  const hash = pbkdf2Sync(password, salt, ITERATIONS, 32, 'sha256').toString('base64')
  return `pbkdf2_sha256$${ITERATIONS}$${salt}$${hash}`
}
