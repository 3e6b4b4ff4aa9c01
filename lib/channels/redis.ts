import type { LayerOptions } from './layer.js'

/** Options of RedisChannelLayer (see issue: Redis layer). */
export interface RedisLayerOptions extends LayerOptions {
  url?: string
  hosts?: string[]
  prefix?: string
}

export class RedisChannelLayer {
  constructor (_options: RedisLayerOptions) {
    throw new Error('RedisChannelLayer is not built yet')
  }
}
