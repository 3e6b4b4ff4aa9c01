// One multipart body, read through @fastify/multipart's parts() into fields
// and files spooled to disk, every limit a 413 and nothing left behind.
import type { FastifyRequest } from 'fastify'
import type { IncomingMessage } from 'node:http'
import { randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { MultiPartParserError, RequestDataTooBig } from '../errors.js'
import { FileDict, UploadedFile, type ParsedForm } from '../http/files.js'
import { messageOf, read } from '../http/problems.js'
import type { UploadLimits } from './options.js'

// The part of @fastify/multipart's API used here (its types stay out of ours).
interface FilePart { type: 'file', fieldname: string, filename: string, mimetype: string, file: Readable & { truncated?: boolean } }
interface FieldPart { type: 'field', fieldname: string, value: unknown, fieldnameTruncated: boolean, valueTruncated: boolean }
export type MultipartRequest = FastifyRequest & {
  isMultipart: () => boolean
  parts: (options: object) => AsyncIterableIterator<FilePart | FieldPart>
}

/** The files of one request on disk; `clean()` deletes them, now and any opened later. */
export class Spool {
  #paths: string[] = []
  #closed = false

  /** A new path in `dir`, owned by this spool. */
  path (dir: string): string {
    const path = join(dir, `fav-upload-${randomUUID()}`)
    this.#paths.push(path)
    return path
  }

  get closed (): boolean { return this.#closed }

  async clean (): Promise<void> {
    this.#closed = true
    const paths = this.#paths
    this.#paths = []
    await Promise.all(paths.map(unlinkQuietly))
  }
}

export async function unlinkQuietly (path: string): Promise<void> {
  try {
    await unlink(path)
  } catch {}
}

const noop = (): void => {}

/**
 * Reads the body into fields and spooled files. On any failure the files are
 * deleted and the error is a RequestDataTooBig (413, naming the limit) or a
 * MultiPartParserError (400); the request stream is detached, unread.
 */
export async function spoolForm (req: MultipartRequest, limits: UploadLimits, spool: Spool): Promise<ParsedForm> {
  const raw = req.raw
  const length = Number(req.headers['content-length'])
  if (length > limits.maxBodySize) {
    discardRest(raw, limits.maxBodySize)
    throw overBody(limits)
  }
  let current: Readable | undefined
  let fail: (error: Error) => void = noop
  const failed = new Promise<never>((_resolve, reject) => { fail = reject })
  failed.catch(noop)
  let received = 0
  // bodyLimit does not bound multipart: count the bytes busboy is fed.
  const count = (chunk: Buffer): void => {
    received += chunk.length
    if (received <= limits.maxBodySize) return
    const error = overBody(limits)
    current?.destroy(error)
    fail(error)
  }
  const race = <T>(promise: Promise<T>): Promise<T> => {
    promise.catch(noop)
    return Promise.race([promise, failed])
  }
  const parts = req.parts({
    limits: { fileSize: limits.maxFileSize, files: limits.maxFiles, fields: limits.maxFields, parts: Infinity, fieldSize: limits.maxBodySize, fieldNameSize: limits.maxBodySize },
    throwFileSizeLimit: true
  })
  const fields: Array<[string, string]> = []
  const files: Array<[string, UploadedFile]> = []
  try {
    // The first next() pipes the request into busboy; count from then on.
    let step = parts.next()
    raw.on('data', count)
    for (let result = await race(step); result.done !== true; result = await race(step)) {
      const part = result.value
      if (part.type === 'field') {
        // Never truncated silently: busboy's own caps are set to the body's.
        if (part.valueTruncated || part.fieldnameTruncated) throw overBody(limits)
        // @fastify/multipart parses a field sent as application/json; POST holds text.
        fields.push([part.fieldname, typeof part.value === 'string' ? part.value : JSON.stringify(part.value)])
      } else {
        const name = fileName(part.filename)
        if (name === undefined || spool.closed) {
          // No file chosen (an empty filename), as Django skips it.
          current = part.file
          await race(pipeline(part.file, devNull()))
        } else {
          const path = spool.path(limits.tmpdir)
          const out = createWriteStream(path, { flags: 'wx' })
          current = part.file
          await race(pipeline(part.file, out))
          if (part.file.truncated === true) throw overFile(limits)
          files.push([part.fieldname, new UploadedFile(name, out.bytesWritten, part.mimetype, path)])
          // The response may have ended meanwhile (client gone): nothing outlives it.
          if (spool.closed) await unlinkQuietly(path)
        }
        current = undefined
      }
      step = parts.next()
    }
  } catch (error) {
    raw.off('data', count)
    raw.unpipe()
    current?.destroy()
    if (!raw.complete) discardRest(raw, limits.maxBodySize)
    await spool.clean()
    throw translate(error, limits)
  }
  raw.off('data', count)
  return { fields, files: new FileDict(files) }
}

/**
 * After a refusal the client may still be sending. Closing at once would reset
 * the connection before it reads the 413 (its write fails first), and leaving
 * the body unread stalls the connection: read and drop the rest, up to `limit`
 * more bytes or LINGER_MS, then close.
 */
function discardRest (raw: IncomingMessage, limit: number): void {
  let left = limit
  const close = (): void => { raw.socket?.destroy() }
  const timer = setTimeout(close, LINGER_MS)
  timer.unref()
  raw.on('data', (chunk: Buffer) => {
    left -= chunk.length
    if (left < 0) close()
  })
  raw.once('end', () => { clearTimeout(timer) })
  raw.once('close', () => { clearTimeout(timer) })
  raw.resume()
}

const LINGER_MS = 5000

/** Django's sanitised name: no directory part; none for '', '.' and '..'. */
function fileName (filename: string | undefined): string | undefined {
  if (filename === undefined) return undefined
  const base = filename.slice(Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\')) + 1).trim()
  return base === '' || base === '.' || base === '..' ? undefined : base
}

function devNull (): Writable {
  return new Writable({ write (_chunk, _encoding, callback) { callback() } })
}

function overBody (limits: UploadLimits): RequestDataTooBig {
  return new RequestDataTooBig(`The request body is larger than uploads.maxBodySize (${limits.maxBodySize} bytes)`)
}

function overFile (limits: UploadLimits): RequestDataTooBig {
  return new RequestDataTooBig(`A file is larger than uploads.maxFileSize (${limits.maxFileSize} bytes)`)
}

/** @fastify/multipart's and busboy's errors as ours, naming the limit. */
function translate (error: unknown, limits: UploadLimits): unknown {
  if (error instanceof RequestDataTooBig || error instanceof MultiPartParserError) return error
  switch (read(error, 'code')) {
    case 'FST_REQ_FILE_TOO_LARGE': return overFile(limits)
    case 'FST_FILES_LIMIT': return new RequestDataTooBig(`The request has more files than uploads.maxFiles (${limits.maxFiles})`)
    case 'FST_FIELDS_LIMIT': return new RequestDataTooBig(`The request has more fields than uploads.maxFields (${limits.maxFields})`)
    case 'FST_PROTO_VIOLATION': return new MultiPartParserError('Malformed multipart body: a field name is not allowed', { cause: error })
    case 'FST_INVALID_JSON_FIELD_ERROR': return new MultiPartParserError('Malformed multipart body: a field declared as application/json is not JSON', { cause: error })
    case 'FST_MP_PREMATURE_CLOSE': return new MultiPartParserError('Malformed multipart body: the request ended early', { cause: error })
  }
  // busboy's own (boundary missing, part header malformed, body cut short) are plain Errors.
  if (error !== null && typeof error === 'object' && Object.getPrototypeOf(error) === Error.prototype && read(error, 'code') === undefined) {
    return new MultiPartParserError(`Malformed multipart body: ${messageOf(error)}`, { cause: error })
  }
  return error
}
