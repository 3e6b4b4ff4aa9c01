// CPU-bound sync code: it keeps its thread busy until it is done. Run through
// syncView() it occupies a worker thread, never the event loop.
import { BadRequest, type HttpRequest } from 'fastify-async-views'

export const MAX_BELOW = 20_000_000

/** How many primes there are below `below`, by trial division (slow on purpose). */
export function countPrimes (below: number): number {
  let count = 0
  for (let n = 2; n < below; n++) {
    let prime = true
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false
        break
      }
    }
    if (prime) count++
  }
  return count
}

/** Reads `?below=` (default 2,000,000); anything else is a 400, from a worker too. */
export function parseBelow (request: HttpRequest): number {
  const below = Number(request.GET.get('below') ?? 2_000_000)
  if (!Number.isInteger(below) || below < 2 || below > MAX_BELOW) throw new BadRequest(`below must be an integer from 2 to ${MAX_BELOW}`)
  return below
}

// A sync view: def primes(request), run on a worker thread by syncView().
export function primesView (request: HttpRequest): { below: number, primes: number, ms: number } {
  const below = parseBelow(request)
  const started = performance.now()
  const primes = countPrimes(below)
  return { below, primes, ms: Math.round(performance.now() - started) }
}
