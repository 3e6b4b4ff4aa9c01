import type { FastifyReply } from 'fastify'
import { flushStreamed, sendResponse, type Sent } from '../http/send.js'
import type { HttpResponse, SendContext } from '../http/response.js'
import { kApply } from '../symbols.js'
import { CapturedResponse } from './captured.js'

type Done = (error: Error | null, payload?: unknown) => void

/**
 * Where middleware meets a response Fastify makes itself (a plain route, a
 * 404, an early rejection, the user's error handler): the innermost layer lets
 * Fastify go on, onSend hands the reply to the chain as a CapturedResponse and
 * waits for the chain's final response, which is written into the reply.
 */
export class Exchange {
  readonly reply: FastifyReply
  /** Lets Fastify run the route's handler (a preHandler's `done`). */
  readonly continueFastify: (() => void) | undefined
  #resolveCapture: ((response: HttpResponse) => void) | undefined
  #finishSend: Done | undefined
  captured: CapturedResponse | undefined

  constructor (reply: FastifyReply, continueFastify?: () => void) {
    this.reply = reply
    this.continueFastify = continueFastify
  }

  /** A response Fastify already made (it answered before the chain started). */
  static late (reply: FastifyReply, payload: unknown, done: Done): Exchange {
    const exchange = new Exchange(reply)
    exchange.captured = new CapturedResponse(reply, payload)
    exchange.#finishSend = done
    return exchange
  }

  /** True once Fastify's response is awaited or held: a second capture cannot start. */
  get busy (): boolean {
    return this.#resolveCapture !== undefined || this.#finishSend !== undefined || this.reply.sent
  }

  /** True while onSend waits for the chain. */
  get waiting (): boolean {
    return this.#resolveCapture !== undefined
  }

  /** Waits for the response Fastify makes once `trigger` sets it going. */
  capture (trigger: () => void): Promise<HttpResponse> {
    return new Promise((resolve) => {
      this.#resolveCapture = resolve
      trigger()
    })
  }

  /** onSend: Fastify's response enters the chain. */
  captureFrom (payload: unknown, done: Done): void {
    const resolve = this.#resolveCapture as (response: HttpResponse) => void
    this.#resolveCapture = undefined
    this.captured = new CapturedResponse(this.reply, payload)
    this.#finishSend = done
    resolve(this.captured)
  }

  /** The reply ended without reaching onSend (hijacked, client gone): let the chain finish. */
  release (): void {
    const resolve = this.#resolveCapture
    if (resolve === undefined) return
    this.#resolveCapture = undefined
    resolve(new CapturedResponse(this.reply, undefined))
  }

  /** Sends the chain's final response: through the waiting onSend, or as a new send. */
  deliver (final: HttpResponse, context: SendContext, debug: boolean): Sent {
    const reply = this.reply
    const finish = this.#finishSend
    if (finish === undefined) {
      if (reply.sent || reply.raw.destroyed) return
      return sendResponse(reply, final, context, debug)
    }
    this.#finishSend = undefined
    if (final !== this.captured) {
      // Middleware replaced the response: none of the old headers apply.
      for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name)
    }
    let payload: unknown
    try {
      payload = final[kApply](reply, context)
    } catch (error) {
      finish(error as Error)
      return
    }
    if (payload instanceof Promise) {
      return payload.then((ready) => { finish(null, ready); return flushStreamed(reply, ready) }, (error) => { finish(error) })
    }
    finish(null, payload)
    return flushStreamed(reply, payload)
  }
}
