import type { FastifyRequest } from 'fastify'
import { Transform, type Readable, type TransformCallback } from 'node:stream'
import { kRawBody } from '../symbols.js'

/** Whether the request announces a body (so GETs cost nothing). */
export function hasBody (req: FastifyRequest): boolean {
  const headers = req.raw.headers
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0')
}

/**
 * For preParsing: passes the body through unchanged to Fastify's parser while
 * keeping a copy of the bytes for `request.body`. Never a 'data' listener on
 * the raw request: that would start it flowing before the parser attaches.
 */
export function teeRawBody<T extends Readable> (req: FastifyRequest, payload: T): T {
  const chunks: Buffer[] = []
  const tee = new Transform({
    transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      chunks.push(chunk)
      callback(null, chunk)
    },
    flush (callback: TransformCallback) {
      (req as { [kRawBody]?: Buffer })[kRawBody] = Buffer.concat(chunks)
      callback()
    }
  })
  payload.on('error', (error: Error) => tee.destroy(error))
  return payload.pipe(tee) as unknown as T
}
