// Errors this package throws at users (configuration, reversing, layers).
// Each has a stable `code`, as in fastify/lib/errors.js.

/** Base class of the package's own errors: a stable `code` beside the message. */
export class AsyncViewsError extends Error {
  readonly code: string
  constructor (code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }

  override get name (): string { return this.constructor.name }
}

/** A bad option or pattern, found at registration (Django's ImproperlyConfigured). */
export class ImproperlyConfigured extends AsyncViewsError {
  constructor (message: string, options?: ErrorOptions) {
    super('FAV_IMPROPERLY_CONFIGURED', message, options)
  }
}

/** `reverse()` found no pattern for the name and arguments given. */
export class NoReverseMatch extends AsyncViewsError {
  constructor (message: string) {
    super('FAV_NO_REVERSE_MATCH', message)
  }
}

/** A channel layer's channel already holds `capacity` messages. */
export class ChannelFull extends AsyncViewsError {
  constructor (message: string) {
    super('FAV_CHANNEL_FULL', message)
  }
}

/** A channel layer could not reach its backend (Redis down), or was closed. */
export class ChannelLayerUnavailable extends AsyncViewsError {
  constructor (message: string, options?: ErrorOptions) {
    super('FAV_CHANNEL_LAYER_UNAVAILABLE', message, options)
  }
}
