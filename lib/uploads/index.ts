// The `uploads` option wired into Fastify: @fastify/multipart registered (or
// adopted) in the app's context, its parser kept by the view routes, and each
// multipart request of a view route spooled in preValidation (before the
// middleware and the view), its files deleted when the response ends.
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, preValidationHookHandler, RouteOptions } from 'fastify'
import { contentTypeParserOf, type ContentTypeParserFn } from '../compat.js'
import { describe } from '../describe.js'
import { ImproperlyConfigured } from '../errors.js'
import { kUploads } from '../symbols.js'
import { uploadLimits, type UploadLimits } from './options.js'
import { importPeer } from '../peers/index.js'
import { Spool, spoolForm, type MultipartRequest } from './spool.js'

export type { UploadsOptions, UploadLimits } from './options.js'
export { uploadLimits } from './options.js'

/** What the view routes' context adds: @fastify/multipart's parser and the spooling hook. */
export type InstallUploads = (inner: FastifyInstance) => void

/**
 * Checks the option, registers @fastify/multipart in the app's context unless
 * the app registered it first, and returns what the view routes install.
 */
export async function setupUploads (app: FastifyInstance, option: unknown): Promise<InstallUploads> {
  const limits = uploadLimits(option)
  if (!app.hasRequestDecorator('isMultipart')) {
    const multipart = await importPeer('@fastify/multipart', 'uploads') as FastifyPluginAsync<Record<string, unknown>>
    await app.register(multipart, {
      limits: { fileSize: limits.maxFileSize, files: limits.maxFiles, fields: limits.maxFields },
      throwFileSizeLimit: true
    })
  }
  const parser = contentTypeParserOf(app, 'multipart/form-data') ?? markMultipart
  const spool = spoolHook(limits)
  return (inner) => {
    inner.addContentTypeParser('multipart/form-data', parser)
    inner.addHook('onRoute', (route) => { addSpoolHook(route, spool) })
  }
}

/** @internal without Fastify's parser table, the request answers isMultipart() itself. */
export const markMultipart: ContentTypeParserFn = (req, _payload, done) => {
  Object.defineProperty(req, 'isMultipart', { value: multipartYes, configurable: true, writable: true })
  done(null)
}
const multipartYes = (): boolean => true

function addSpoolHook (route: RouteOptions, hook: preValidationHookHandler): void {
  const mode = (route as { uploads?: unknown }).uploads
  if (mode !== undefined && mode !== 'stream') throw new ImproperlyConfigured(`Route option 'uploads' must be 'stream' (got ${describe(mode)})`)
  if (mode === 'stream' || (route as { websocket?: boolean }).websocket === true) return
  if ([route.method].flat().every((m) => m === 'GET' || m === 'HEAD')) return
  route.preValidation = [hook, ...(route.preValidation === undefined ? [] : [route.preValidation].flat())] as RouteOptions['preValidation']
}

function spoolHook (limits: UploadLimits): preValidationHookHandler {
  // Callback style: a request that is not multipart goes on in the same tick.
  return function spoolUploads (req: FastifyRequest, reply: FastifyReply, done: (error?: FastifyError) => void) {
    if (!(req as MultipartRequest).isMultipart()) {
      done()
      return
    }
    const spool = new Spool()
    // 'close' comes after the response, or when the client leaves before it.
    const res = reply.raw
    const clean = (): void => { spool.clean().catch(() => {}) }
    res.once('close', clean)
    if (res.closed) clean()
    spoolForm(req as MultipartRequest, limits, spool).then((form) => {
      (req as FastifyRequest & { [kUploads]?: unknown })[kUploads] = form
      done()
    }, done)
  }
}
