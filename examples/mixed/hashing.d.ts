// Types for hashing.js, which is JavaScript so that the bridge's workers can import it under tsx on Node 20.

/** Django 4.2's default for pbkdf2_sha256. */
export const ITERATIONS: number
/** Hashes a password into Django's format, `pbkdf2_sha256$<iterations>$<salt>$<hash>`. */
export function makePassword (password: string, salt?: string): string
