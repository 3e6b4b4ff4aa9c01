// The app's channel layer, in a module of its own so that the server and the
// async helpers share one instance (Channels' get_channel_layer()).
import { InMemoryChannelLayer } from 'fastify-async-views'

export const channelLayer = new InMemoryChannelLayer()
