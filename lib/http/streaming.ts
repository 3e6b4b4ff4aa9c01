import { Readable } from 'node:stream'
import { open } from 'node:fs/promises'
import { basename, extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { kApply } from '../symbols.js'
import { HttpResponse, type ReplyLike, type ResponseOptions, type SendContext } from './response.js'
import { ResponseHeaders } from './headers.js'
import { ERR_INVALID_CONTENT, ERR_INVALID_EVENT, ERR_NOT_A_FILE } from '../errors.js'

export type Chunk = string | Buffer | Uint8Array
export type StreamingContent = Iterable<Chunk> | AsyncIterable<Chunk>

/**
 * A body sent as it is produced. When the client goes away, Fastify destroys
 * the stream, which ends the iteration at its next `yield`.
 */
export class StreamingHttpResponse extends HttpResponse {
  #source: StreamingContent | Readable

  constructor (streamingContent: StreamingContent | Readable, options?: ResponseOptions) {
    super('', options)
    this.#source = checkSource(streamingContent)
  }

  override get streaming (): boolean { return true }

  override get content (): Buffer {
    throw new ERR_INVALID_CONTENT(`This ${this.constructor.name} instance has no \`content\` attribute. Use \`streamingContent\` instead.`)
  }

  override set content (_value) {
    throw new ERR_INVALID_CONTENT(`This ${this.constructor.name} instance has no \`content\` attribute. Use \`streamingContent\` instead.`)
  }

  /** The iterable the body is read from; middleware may wrap it. */
  get streamingContent (): StreamingContent | Readable { return this.#source }
  set streamingContent (value: StreamingContent | Readable) { this.#source = checkSource(value) }

  /** The Node stream sent as the body. */
  protected toStream (): Readable {
    const source = this.#source
    if (source instanceof Readable) return source
    return Readable.from(chunks(source), { objectMode: false })
  }

  override [kApply] (reply: ReplyLike, context: SendContext): unknown {
    super[kApply](reply, context)
    if (isHead(reply)) {
      // A HEAD response has no body: never iterate it (Node would discard it
      // without back-pressure), close it so its `finally` runs.
      this.discard()
      return undefined
    }
    return this.toStream()
  }

  /** Closes the body's source without reading it (HEAD). */
  protected discard (): void {
    closeSource(this.#source)
  }
}

function isHead (reply: ReplyLike): boolean {
  return reply.request?.raw.method === 'HEAD'
}

/** Ends an iterable or stream nobody will read; its cleanup errors are nobody's business now. */
function closeSource (source: StreamingContent | Readable): void {
  try {
    if (source instanceof Readable) {
      source.destroy()
    } else if (Symbol.asyncIterator in source) {
      Promise.resolve(source[Symbol.asyncIterator]().return?.()).catch(() => {})
    } else {
      source[Symbol.iterator]().return?.()
    }
  } catch {}
}

function checkSource<T> (source: T): T {
  if (source === null || typeof source !== 'object' ||
      (!(Symbol.iterator in source) && !(Symbol.asyncIterator in source))) {
    throw new ERR_INVALID_CONTENT('Streaming content must be an iterable, an async iterable or a Readable')
  }
  return source
}

// Strings and bytes pass as they are; anything else is a programming error.
async function * chunks (source: StreamingContent): AsyncGenerator<string | Buffer> {
  for await (const chunk of source) {
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) yield chunk
    else if (chunk instanceof Uint8Array) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    else throw new ERR_INVALID_CONTENT('Streaming content must yield strings or bytes')
  }
}

export interface FileResponseOptions extends ResponseOptions {
  /** `Content-Disposition: attachment` instead of `inline`. */
  asAttachment?: boolean
  /** The name the client sees; defaults to the file's own name. */
  filename?: string
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.mp3': 'audio/mpeg',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2'
}

// Compressed files get the compression's type, never the inner type plus an
// encoding a browser would undo (Django's FileResponse, from Python's mimetypes).
const COMPRESSED: Record<string, string> = {
  '.gz': 'application/gzip',
  '.tgz': 'application/gzip',
  '.taz': 'application/gzip',
  '.tz': 'application/gzip',
  '.bz2': 'application/x-bzip',
  '.tbz2': 'application/x-bzip',
  '.xz': 'application/x-xz',
  '.txz': 'application/x-xz',
  '.br': 'application/x-brotli',
  '.Z': 'application/x-compress'
}

function typeOf (filename: string): string {
  const ext = extname(filename)
  return COMPRESSED[ext] ?? TYPES[ext.toLowerCase()] ?? 'application/octet-stream'
}

/**
 * A file streamed from disk (a path or `file:` URL) or from a Readable.
 * Content-Type comes from the name, Content-Length from the file's size.
 */
export class FileResponse extends StreamingHttpResponse {
  readonly #path: string | undefined
  readonly #filename: string | undefined
  readonly #lazy: StreamingContent | undefined

  constructor (file: string | URL | Readable, options: FileResponseOptions = {}) {
    const path = file instanceof Readable ? undefined : (file instanceof URL || file.startsWith('file:') ? fileURLToPath(file) : file)
    // A read stream knows its file's name (Django reads `filelike.name`).
    const streamPath = file instanceof Readable ? (file as Readable & { path?: unknown }).path : undefined
    // The file is opened when sending, so a response that is never sent holds no descriptor.
    const lazy = path === undefined ? undefined : readLater(path)
    super(lazy ?? file as Readable, options)
    this.#path = path
    this.#lazy = lazy
    const named = path ?? (typeof streamPath === 'string' ? streamPath : undefined)
    const filename = options.filename ?? (named === undefined ? undefined : basename(named))
    this.#filename = filename
    const givenType = options.contentType !== undefined || (options.headers !== undefined && new ResponseHeaders(options.headers).has('content-type'))
    if (!givenType) {
      this.headers.set('content-type', filename === undefined ? 'application/octet-stream' : typeOf(filename))
    }
    if (filename !== undefined || options.asAttachment === true) {
      this.headers.set('content-disposition', contentDisposition(options.asAttachment === true, filename))
    }
  }

  /** The file's name as the client will see it. */
  get filename (): string | undefined { return this.#filename }

  override [kApply] (reply: ReplyLike, context: SendContext): unknown {
    // Middleware that wrapped streamingContent gets its wrapper sent instead.
    if (this.#path === undefined || this.streamingContent !== this.#lazy) return super[kApply](reply, context)
    return this.#openFile(reply, context, this.#path)
  }

  async #openFile (reply: ReplyLike, context: SendContext, path: string): Promise<Readable | undefined> {
    const handle = await open(path, 'r')
    let stream: Readable | undefined
    try {
      const stats = await handle.stat()
      if (!stats.isFile()) throw new ERR_NOT_A_FILE(`FileResponse: ${path} is not a regular file`)
      // Status and headers only: the file is never read for HEAD (it was not opened before either).
      super[kApply](reply, context)
      reply.header('content-length', stats.size)
      if (!isHead(reply)) stream = handle.createReadStream()
      return stream
    } finally {
      if (stream === undefined) await handle.close()
    }
  }
}

function readLater (path: string): StreamingContent {
  return {
    async * [Symbol.asyncIterator] () {
      const handle = await open(path, 'r')
      yield * handle.createReadStream() as AsyncIterable<Buffer>
    }
  }
}

function contentDisposition (attachment: boolean, filename: string | undefined): string {
  const type = attachment ? 'attachment' : 'inline'
  if (filename === undefined) return type

  const ascii = /^[\x20-\x7e]*$/.test(filename)
  if (ascii) return `${type}; filename="${filename.replace(/["\\]/g, '\\$&')}"`
  return `${type}; filename*=utf-8''${encodeURIComponent(filename).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())}`
}

/** One server-sent event; a plain string is a `data`-only event. */
export interface ServerSentEvent {
  data?: unknown
  event?: string
  id?: string | number
  /** Reconnection delay the client should use, in ms. */
  retry?: number
  /** A comment line (`: ...`), e.g. a keep-alive. */
  comment?: string
}

export interface EventStreamOptions extends ResponseOptions {
  /** Send a comment every `keepAlive` ms so proxies keep an idle stream open (0 = never). */
  keepAlive?: number
}

/**
 * Server-sent events (`text/event-stream`). `data` that is not a string is sent
 * as JSON. No `Connection` header is set, so it works over HTTP/2 as well.
 */
export class EventStreamResponse extends StreamingHttpResponse {
  readonly #events: AsyncIterable<ServerSentEvent | string> | Iterable<ServerSentEvent | string>

  constructor (events: AsyncIterable<ServerSentEvent | string> | Iterable<ServerSentEvent | string>, options: EventStreamOptions = {}) {
    super(encodeEvents(events, options.keepAlive ?? 0), { contentType: 'text/event-stream; charset=utf-8', ...options })
    this.#events = events
    if (!this.headers.has('cache-control')) this.headers.set('cache-control', 'no-cache')
    // Tells nginx not to buffer the stream.
    if (!this.headers.has('x-accel-buffering')) this.headers.set('x-accel-buffering', 'no')
  }

  // The encoder never started, so the events' own iterator must be closed too.
  protected override discard (): void {
    super.discard()
    closeSource(this.#events as StreamingContent)
  }
}

/** Formats one event in the text/event-stream syntax. */
export function formatEvent (event: ServerSentEvent | string): string {
  if (typeof event === 'string') return dataLines(event) + '\n'
  let out = ''
  if (event.comment !== undefined) out += event.comment.split(/\r\n|\r|\n/).map((line) => `: ${line}\n`).join('')
  if (event.event !== undefined) out += `event: ${singleLine('event', event.event)}\n`
  if (event.id !== undefined) out += `id: ${singleLine('id', String(event.id))}\n`
  if (event.retry !== undefined) {
    if (!Number.isInteger(event.retry) || event.retry < 0) throw new ERR_INVALID_EVENT('Server-sent event retry must be a non-negative integer')
    out += `retry: ${event.retry}\n`
  }
  if (event.data !== undefined) out += dataLines(typeof event.data === 'string' ? event.data : JSON.stringify(event.data))
  return out + '\n'
}

function dataLines (data: string): string {
  let out = ''
  for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`
  return out
}

function singleLine (field: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new ERR_INVALID_EVENT(`Server-sent event ${field} must be a single line`)
  return value
}

async function * encodeEvents (
  events: AsyncIterable<ServerSentEvent | string> | Iterable<ServerSentEvent | string>,
  keepAlive: number
): AsyncGenerator<string> {
  if (keepAlive <= 0) {
    for await (const event of events) yield formatEvent(event)
    return
  }
  // Race each next event against a keep-alive tick without losing either.
  const iterator = Symbol.asyncIterator in events ? events[Symbol.asyncIterator]() : (events as Iterable<ServerSentEvent | string>)[Symbol.iterator]()
  let pending: Promise<IteratorResult<ServerSentEvent | string>> | undefined
  let timer: NodeJS.Timeout | undefined
  try {
    while (true) {
      pending ??= Promise.resolve(iterator.next())
      const tick = new Promise<'tick'>((resolve) => { timer = setTimeout(resolve, keepAlive, 'tick') })
      const winner = await Promise.race([pending, tick])
      clearTimeout(timer)
      if (winner === 'tick') {
        yield ': keep-alive\n\n'
        continue
      }
      pending = undefined
      if (winner.done === true) return
      yield formatEvent(winner.value)
    }
  } finally {
    clearTimeout(timer)
    // A next() may still be pending: ask the source to stop without waiting for it.
    Promise.resolve(iterator.return?.()).catch(() => {})
  }
}
