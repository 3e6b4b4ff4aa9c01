import { DisallowedHost } from './exceptions.js'

// A valid host[:port]: a DNS name, IPv4, or bracketed IPv6 (Django's host_validation_re).
const HOST = /^([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(:[0-9]+)?$/i

/** Whether a Host header is a valid host[:port], as Django's `validate_host` requires. */
export function isValidHost (host: string): boolean {
  return HOST.test(host)
}

/** Django's DisallowedHost (a 400) for a Host header that is not a valid host[:port]. */
export function disallowedHost (host: string): DisallowedHost {
  return new DisallowedHost(`Invalid HTTP_HOST header: ${JSON.stringify(host)}.`)
}
