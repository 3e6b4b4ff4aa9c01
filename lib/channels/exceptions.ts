/** Raised by a consumer to stop itself (Channels' StopConsumer). */
export class StopConsumer extends Error {
  override get name (): string { return 'StopConsumer' }
}

/** Raised in `connect()` to refuse the handshake: HTTP 403 (Channels' DenyConnection). */
export class DenyConnection extends Error {
  override get name (): string { return 'DenyConnection' }
}
