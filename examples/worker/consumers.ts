// Background work, as Channels' `runworker` consumes a named channel:
// `thumbnails` messages of type `thumbnails.generate` are handled one at a
// time by ThumbnailConsumer, off the web process.
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { AsyncConsumer } from 'fastify-async-views'

export interface GenerateJob { type: 'thumbnails.generate', id: string, name: string, size: number }

export class ThumbnailConsumer extends AsyncConsumer {
  async thumbnailsGenerate (job: GenerateJob): Promise<void> {
    // Stand-in for image work: slow, and producing something checkable.
    await sleep(50)
    const digest = createHash('sha256').update(`${job.name}@${job.size}`).digest('hex').slice(0, 16)
    await this.channelLayer.groupSend('thumbnails-done', {
      type: 'thumbnail.done',
      id: job.id,
      name: job.name,
      thumbnail: `${job.name}.${job.size}px.${digest}.png`,
      pid: process.pid
    })
  }
}

// What `fastify-async-views worker` loads: channel name -> consumer class.
export default { thumbnails: ThumbnailConsumer }
