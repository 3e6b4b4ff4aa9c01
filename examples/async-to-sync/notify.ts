// The async helper sync code calls through asyncToSync(): it then runs on the
// main event loop, where the app's channel layer lives.
import { channelLayer } from './layer.ts'

/** channel_layer.group_send, for sync code: `async_to_sync(channel_layer.group_send)(group, message)`. */
export async function notify (group: string, message: { type: string, [key: string]: unknown }): Promise<void> {
  await channelLayer.groupSend(group, message)
}
