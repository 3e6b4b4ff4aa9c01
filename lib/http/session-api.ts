// The shape of `request.session` (Django's SessionBase), declared here so the
// request can type it; lib/sessions implements it.

/** Django's `request.session`: JSON values under string keys, saved with the response. */
export interface RequestSession {
  get<T = unknown> (key: string, fallback?: T): T
  /** A value that cannot round-trip through JSON, or the key `cookie` / `sessionId`, is a TypeError. */
  set (key: string, value: unknown): void
  has (key: string): boolean
  delete (key: string): boolean
  keys (): string[]
  isEmpty (): boolean
  /** Seconds of inactivity, 0 (until the browser closes), a Date, or null (back to `cookieAge`). */
  setExpiry (value: number | Date | null): void
  getExpiryAge (): number
  /** Empties the session under a new key (logout). */
  flush (): Promise<void>
  /** The same data under a new key (login). */
  cycleKey (): Promise<void>
  /** Saves now (views save with the response; consumers call this). */
  save (): Promise<void>
  /** Whether a change waits to be saved. */
  readonly modified: boolean
}
