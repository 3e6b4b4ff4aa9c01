import type { AsyncConsumer } from './consumer.js'
import type { ChannelLayer, LayerLogger } from './layer.js'
import { checkChannelName } from './names.js'
import type { ChannelScope } from './scope.js'
import { ERR_INVALID_WORKER, ERR_WORKER_STOPPED } from '../errors.js'

export interface ChannelWorkerOptions {
  log?: LayerLogger & { info?: (obj: unknown, msg?: string) => void }
}

export interface ChannelWorker {
  /** Finishes the message in hand, takes no more (they stay queued), then resolves. */
  stop (): Promise<void>
  /** Resolves when every channel's loop has ended (after stop() or the layer closing). */
  readonly done: Promise<void>
}

/**
 * Channels' `runworker` with a ChannelNameRouter: consumes named channels, one
 * consumer instance per channel, one message at a time, dispatched by `type`.
 * `channelWorker(layer, { thumbnails: ThumbnailConsumer })`.
 */
export function channelWorker (layer: ChannelLayer, routes: Record<string, new () => AsyncConsumer>, options: ChannelWorkerOptions = {}): ChannelWorker {
  const entries = Object.entries(routes)
  if (entries.length === 0) throw new ERR_INVALID_WORKER('channelWorker needs at least one { channel: ConsumerClass }')
  for (const [channel, Consumer] of entries) {
    checkChannelName(channel)
    if (channel.includes('!')) throw new ERR_INVALID_WORKER(`channelWorker consumes named channels, not process-local ones (${channel})`)
    if (typeof Consumer !== 'function') throw new ERR_INVALID_WORKER(`channelWorker: '${channel}' must map to a consumer class`)
  }
  const log = options.log ?? layer.log
  const controller = new AbortController()

  const run = async (channel: string, Consumer: new () => AsyncConsumer): Promise<void> => {
    const consumer = new Consumer()
    ;(consumer as unknown as { scope: ChannelScope }).scope = { type: 'channel', channel }
    consumer.channelLayer = layer
    consumer.channelName = channel
    while (!controller.signal.aborted) {
      let message
      try {
        message = await layer.receive(channel, { signal: controller.signal })
      } catch (error) {
        if (controller.signal.aborted) return
        // The layer closed (or its backend went away for good): the worker ends.
        if ((error as Error)?.name === 'ChannelLayerUnavailable') return
        try { log?.error({ err: error, channel }, `channel worker could not receive from ${channel}`) } catch {}
        await new Promise((resolve) => setTimeout(resolve, 250).unref())
        continue
      }
      try {
        await consumer.dispatch(message)
      } catch (error) {
        try { log?.error({ err: error, channel, type: message.type }, `channel worker: ${Consumer.name} failed on a '${message.type}' message`) } catch {}
      }
    }
  }

  const done = Promise.all(entries.map(async ([channel, Consumer]) => { await run(channel, Consumer) })).then(() => {})
  return {
    done,
    async stop () {
      controller.abort(new ERR_WORKER_STOPPED('channel worker stopped'))
      await done
    }
  }
}
