// Django's password hashers, byte for byte: `scrypt$16384$<salt>$8$5$<b64>`
// (the default) and `pbkdf2_sha256$<iterations>$<salt>$<b64>`, so a Django user
// table's hashes verify. Hashing runs on libuv's thread pool (node:crypto's
// async scrypt/pbkdf2), never on the event loop.
import { pbkdf2, randomInt, scrypt, timingSafeEqual } from 'node:crypto'
import { ERR_INVALID_PASSWORD_HASH } from '../errors.js'

const SCRYPT = { N: 2 ** 14, r: 8, p: 5, dklen: 64 }
/** Django 5.2's PBKDF2 iterations. */
const PBKDF2_ITERATIONS = 1000000
/** Django's UNUSABLE_PASSWORD_PREFIX. */
const UNUSABLE = '!'
const SALT_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

/** The algorithms makePassword can use. */
export type PasswordHasher = 'scrypt' | 'pbkdf2_sha256'

/** Django's get_random_string: `length` characters of [a-zA-Z0-9]. */
export function randomString (length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += SALT_CHARS[randomInt(SALT_CHARS.length)]
  return out
}

function scryptHash (password: string, salt: string, N: number, r: number, p: number, dklen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem: Node's default (32 MiB) is just above what N=2^14, r=8 needs; leave room for stored higher N.
    scrypt(password, salt, dklen, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (error, key) => { error === null ? resolve(key) : reject(error) })
  })
}

function pbkdf2Hash (password: string, salt: string, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, 32, 'sha256', (error, key) => { error === null ? resolve(key) : reject(error) })
  })
}

/**
 * Django's make_password: `raw` hashed with a random salt, in Django's format.
 * `null` gives an unusable password (`!` and random characters).
 */
export async function makePassword (raw: string | null, salt?: string, hasher: PasswordHasher = 'scrypt'): Promise<string> {
  if (raw === null) return UNUSABLE + randomString(40)
  if (typeof raw !== 'string') throw new ERR_INVALID_PASSWORD_HASH(`makePassword(): the password must be a string or null (got ${typeof raw})`)
  if (salt !== undefined && (salt === '' || salt.includes('$'))) throw new ERR_INVALID_PASSWORD_HASH('makePassword(): the salt must be non-empty and contain no $')
  if (hasher === 'pbkdf2_sha256') {
    const s = salt ?? randomString(22)
    return `pbkdf2_sha256$${PBKDF2_ITERATIONS}$${s}$${(await pbkdf2Hash(raw, s, PBKDF2_ITERATIONS)).toString('base64')}`
  }
  if (hasher !== 'scrypt') throw new ERR_INVALID_PASSWORD_HASH(`makePassword(): unknown hasher ${JSON.stringify(hasher)} (scrypt or pbkdf2_sha256)`)
  const s = salt ?? randomString(22)
  const key = await scryptHash(raw, s, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.dklen)
  return `scrypt$${SCRYPT.N}$${s}$${SCRYPT.r}$${SCRYPT.p}$${key.toString('base64')}`
}

/** Django's is_password_usable. */
export function isPasswordUsable (encoded: string | null | undefined): boolean {
  return typeof encoded === 'string' && !encoded.startsWith(UNUSABLE)
}

/**
 * Django's check_password. An unusable or missing hash is false, after one
 * hash all the same (an unknown user takes as long as a known one). A hash of
 * an algorithm we do not have (argon2, bcrypt) is a TypeError naming it.
 */
export async function checkPassword (raw: string, encoded: string | null | undefined): Promise<boolean> {
  if (typeof raw !== 'string' || !isPasswordUsable(encoded)) {
    await makePassword(typeof raw === 'string' ? raw : '')
    return false
  }
  const parts = (encoded as string).split('$')
  let expected: Buffer
  let actual: Buffer
  if (parts[0] === 'scrypt' && parts.length === 6) {
    const [, n, salt, r, p, hash] = parts
    expected = Buffer.from(hash, 'base64')
    if (!/^\d+$/.test(n) || !/^\d+$/.test(r) || !/^\d+$/.test(p) || expected.length === 0) return false
    actual = await scryptHash(raw, salt, Number(n), Number(r), Number(p), expected.length)
  } else if (parts[0] === 'pbkdf2_sha256' && parts.length === 4) {
    const [, iterations, salt, hash] = parts
    expected = Buffer.from(hash, 'base64')
    if (!/^\d+$/.test(iterations) || expected.length === 0) return false
    actual = await pbkdf2Hash(raw, salt, Number(iterations))
  } else {
    throw new ERR_INVALID_PASSWORD_HASH(`checkPassword(): unknown password hash algorithm ${JSON.stringify(parts[0])} (scrypt and pbkdf2_sha256 are supported)`)
  }
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}
